// Sends one agent trace to tracecol through the official OpenTelemetry JS SDK
// (BasicTracerProvider + BatchSpanProcessor + the OTLP/HTTP trace exporter), with the
// OpenInference attributes an instrumented agent sets, then prints what the SDK generated
// (ids, times, export results) as one JSON object on stdout for the C++ test to compare.
//
//   node send_spans.js --url http://127.0.0.1:4318/v1/traces [--protocol json|protobuf] [--gzip]
//
// --protocol json (default) uses @opentelemetry/exporter-trace-otlp-http, which always
// sends OTLP/HTTP JSON (Content-Type: application/json); protobuf uses
// @opentelemetry/exporter-trace-otlp-proto (application/x-protobuf). --gzip sets the
// exporter's compression to gzip. The headers of every request the SDK sends are recorded
// (node's http.request wrapped) and printed with the rest. Exit status 0 when the script
// ran to the end, whatever the export result (the test judges that).
'use strict';

const { trace, context, SpanStatusCode, SpanKind, diag, DiagLogLevel } = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } = require('@opentelemetry/semantic-conventions');
const http = require('http');
const { syncBuiltinESMExports } = require('module');

/** Every request made through http.request; its headers are read once it is sent. */
const sent_requests = [];
const original_request = http.request;
http.request = function (...args) {
  const req = original_request.apply(this, args);
  sent_requests.push(req);
  return req;
};
const describe_request = (req) => ({
  method: req.method,
  path: req.path,
  content_type: req.getHeader('content-type') || null,
  content_encoding: req.getHeader('content-encoding') || null,
});
// The exporter loads http with import(): make the ESM view see the wrapper.
syncBuiltinESMExports();

function parse_args(argv) {
  const args = { url: '', protocol: 'json', gzip: false };
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--url') args.url = argv[++i];
    else if (argv[i] === '--protocol') args.protocol = argv[++i];
    else if (argv[i] === '--gzip') args.gzip = true;
    else throw new Error('unknown argument ' + argv[i]);
  }
  if (!args.url) throw new Error('--url is required');
  if (args.protocol !== 'json' && args.protocol !== 'protobuf') throw new Error('--protocol json|protobuf');
  return args;
}

/** Wraps the OTLP exporter to record every export result (code, HTTP status, body). */
class RecordingExporter {
  constructor(inner) {
    this.inner = inner;
    this.results = [];
  }
  export(spans, done) {
    this.inner.export(spans, (result) => {
      const e = result.error;
      this.results.push({
        code: result.code,  // 0 SUCCESS, 1 FAILED (ExportResultCode)
        spans: spans.length,
        error: e ? String(e.message || e) : null,
        http_status: e && e.code !== undefined ? e.code : null,
        body: e && e.data !== undefined ? String(e.data) : null,
      });
      done(result);
    });
  }
  shutdown() { return this.inner.shutdown(); }
  forceFlush() { return this.inner.forceFlush ? this.inner.forceFlush() : Promise.resolve(); }
}

/** [seconds, nanos] at `ms` milliseconds after `base` (an integral epoch second). */
function at(base, ms) {
  const total_ns = BigInt(ms) * 1000000n;
  return [base + Number(total_ns / 1000000000n), Number(total_ns % 1000000000n)];
}

function hr_to_ns_string(hr) {
  return (BigInt(hr[0]) * 1000000000n + BigInt(hr[1])).toString();
}

async function main() {
  const args = parse_args(process.argv.slice(2));
  // SDK warnings and errors go to stderr (ctest shows them on failure); stdout stays JSON.
  diag.setLogger({
    error: (...m) => console.error('otel error:', ...m),
    warn: (...m) => console.error('otel warn:', ...m),
    info: () => {}, debug: () => {}, verbose: () => {},
  }, DiagLogLevel.WARN);

  const Exporter = args.protocol === 'json'
    ? require('@opentelemetry/exporter-trace-otlp-http').OTLPTraceExporter
    : require('@opentelemetry/exporter-trace-otlp-proto').OTLPTraceExporter;
  const exporter = new RecordingExporter(new Exporter({
    url: args.url, timeoutMillis: 10000, compression: args.gzip ? 'gzip' : 'none',
  }));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: 'otel-js-agent',
      [ATTR_SERVICE_VERSION]: '1.2.3',
    }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60000 })],
  });
  const tracer = provider.getTracer('tracecol-otel-js-test', '0.0.1');

  // Fixed times so the test can check durations exactly: root 500 ms, plan 120 ms,
  // search 250 ms, summarize 150 ms.
  const base = Math.floor(Date.now() / 1000) - 5;
  const session = 'session-js-' + process.pid;
  const spans = {};
  const remember = (key, span, start, end) => {
    const c = span.spanContext();
    spans[key] = { span_id: c.spanId, start_ns: hr_to_ns_string(start), end_ns: hr_to_ns_string(end) };
  };
  const in_ctx = (parent) => trace.setSpan(context.active(), parent);

  const root_start = at(base, 0), root_end = at(base, 500);
  const root = tracer.startSpan('agent.run', {
    kind: SpanKind.INTERNAL, startTime: root_start,
    attributes: {
      'openinference.span.kind': 'AGENT',
      'session.id': session,
      'input.value': JSON.stringify({ question: 'What is the weather in Paris?' }),
      'input.mime_type': 'application/json',
      'agent.name': 'weather-bot',
    },
  });

  const plan_start = at(base, 10), plan_end = at(base, 130);
  const plan = tracer.startSpan('llm.plan', {
    startTime: plan_start,
    attributes: {
      'openinference.span.kind': 'LLM',
      'session.id': session,
      'input.value': JSON.stringify({ messages: [{ role: 'user', content: 'weather in Paris?' }] }),
      'input.mime_type': 'application/json',
      'output.value': JSON.stringify({ tool_call: 'search', args: { city: 'Paris' } }),
      'output.mime_type': 'application/json',
      'llm.model_name': 'gpt-test',
      'llm.token_count.total': 42,
    },
  }, in_ctx(root));
  plan.end(plan_end);
  remember('llm.plan', plan, plan_start, plan_end);

  const search_start = at(base, 150), search_end = at(base, 400);
  const search = tracer.startSpan('tool.search', {
    startTime: search_start,
    attributes: {
      'openinference.span.kind': 'TOOL',
      'session.id': session,
      'input.value': JSON.stringify({ city: 'Paris' }),
      'input.mime_type': 'application/json',
      'tool.name': 'search',
    },
  }, in_ctx(root));

  const sum_start = at(base, 200), sum_end = at(base, 350);
  const summarize = tracer.startSpan('llm.summarize', {
    startTime: sum_start,
    attributes: {
      'openinference.span.kind': 'LLM',
      'session.id': session,
      'input.value': 'summarize the search results',
      'input.mime_type': 'text/plain',
      'output.value': 'no results',
      'output.mime_type': 'text/plain',
    },
  }, in_ctx(search));
  summarize.end(sum_end);
  remember('llm.summarize', summarize, sum_start, sum_end);

  const failure = new Error('weather service unavailable: HTTP 503');
  search.recordException(failure, at(base, 390));
  search.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
  search.end(search_end);
  remember('tool.search', search, search_start, search_end);

  root.setAttribute('output.value', JSON.stringify({ answer: 'I could not reach the weather service.' }));
  root.setAttribute('output.mime_type', 'application/json');
  root.end(root_end);
  remember('agent.run', root, root_start, root_end);

  // forceFlush rejects when the export failed (e.g. the 415 for protobuf); the result is
  // in exporter.results either way.
  let flush_error = null;
  try {
    await provider.forceFlush();
  } catch (e) {
    flush_error = String(e && e.message ? e.message : e);
  }
  await provider.shutdown();

  process.stdout.write(JSON.stringify({
    protocol: args.protocol,
    trace_id: root.spanContext().traceId,
    session_id: session,
    service_name: 'otel-js-agent',
    error_message: failure.message,
    spans,
    exports: exporter.results,
    flush_error,
    requests: sent_requests.map(describe_request),
  }) + '\n');
}

main().catch((e) => {
  console.error('send_spans.js failed:', e && e.stack ? e.stack : e);
  process.exit(1);
});
