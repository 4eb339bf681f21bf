-- wrk driver for `npm run bench`. Usage: wrk ... -s wrk.lua URL -- REQUESTS_FILE
-- REQUESTS_FILE holds one request per line: METHOD <TAB> PATH <TAB> BODY (the body may be empty).
-- Every thread cycles through the requests from its own offset. Any response outside 2xx counts as
-- non2xx, a 2xx body containing "error" counts as body_errors; done() prints one line
-- `WRK_RESULT {json}` that the bench parses.
local requests = {}
local index = 1
-- Globals, not locals: done() reads them from each thread with thread:get().
non2xx = 0
body_errors = 0
-- The first failed answer of the thread ("STATUS body…"), so that the report can say what went wrong.
error_sample = ''
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local file = assert(io.open(path, 'r'), 'cannot open ' .. tostring(path))
  local headers = { ['Content-Type'] = 'application/json' }
  for line in file:lines() do
    local method, target, body = line:match('^([^\t]*)\t([^\t]*)\t?(.*)$')
    if method and method ~= '' then
      if body == '' then body = nil end
      table.insert(requests, wrk.format(method, target, headers, body))
    end
  end
  file:close()
  assert(#requests > 0, 'no request in ' .. path)
  math.randomseed(os.time() + tonumber(tostring({}):match('0x(%x+)') or '0', 16) % 1000003)
  index = math.random(1, #requests)
end

function request()
  local r = requests[index]
  index = index + 1
  if index > #requests then index = 1 end
  return r
end

local function sample(status, body)
  if error_sample == '' then
    error_sample = tostring(status) .. ' ' .. string.sub(body or '', 1, 200)
  end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    sample(status, body)
  elseif body and string.find(body, '"error"', 1, true) then
    body_errors = body_errors + 1
    sample(status, body)
  end
end

local function json_string(text)
  return '"' .. string.gsub(text, '[%c"\\]', function(c)
    return string.format('\\u%04x', string.byte(c))
  end) .. '"'
end

function done(summary, latency, requests)
  local n2, be, example = 0, 0, ''
  for _, t in ipairs(threads) do
    n2 = n2 + (tonumber(t:get('non2xx')) or 0)
    be = be + (tonumber(t:get('body_errors')) or 0)
    if example == '' then example = t:get('error_sample') or '' end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"connect_errors":%d,"read_errors":%d,"write_errors":%d,' ..
    '"status_errors":%d,"timeouts":%d,"non2xx":%d,"body_errors":%d,"error_sample":%s}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout, n2, be,
    json_string(example)))
end
