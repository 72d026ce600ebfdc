# The example agent image: Python + the stdlib-only tracecol client + examples/agent.py.
# Built from the repository root:  docker build -f deploy/docker/agent.Dockerfile -t tracecol-example-agent .
FROM python:3.11-slim-bookworm
COPY client/python /opt/tracecol-client
ENV PYTHONPATH=/opt/tracecol-client \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TRACECOL_SOCKET=/run/tracecol/tracecol.sock
# Its own uid; it joins tracecol's group (10001) at run time to reach the 0660 socket.
USER 10002:10002
CMD ["python", "/opt/tracecol-client/examples/agent.py"]
