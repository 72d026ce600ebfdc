-- wrk script: GET /api/traces/{id} for ids the store holds. The ingest sender writes the
-- highest trace id it has seen applied to a progress file; ids are consecutive, so the
-- newest 10,000 up to it are in a store of --max-traces 20000. Usage:
--   wrk ... -s get_trace.lua http://127.0.0.1:PORT -- PROGRESS_FILE
local progress_path = nil
local latest = 10000
local counter = 0

local function read_latest()
  local f = progress_path and io.open(progress_path, "r")
  if f then
    local n = tonumber(f:read("*l"))
    f:close()
    if n then latest = n end
  end
end

local thread_seed = 0
function setup(thread)
  thread_seed = thread_seed + 1
  thread:set("seed", thread_seed)
end

function init(args)
  progress_path = args[1]
  math.randomseed(os.time() * 1000 + (seed or 0))
  read_latest()
end

function request()
  counter = counter + 1
  if counter % 500 == 0 then read_latest() end
  local id = math.random(math.max(1, latest - 9999), latest)
  return wrk.format("GET", string.format("/api/traces/%032x", id))
end
