-- gpuctl.nvim: send the selection or the buffer to a model through gpuctld and stream the answer
-- into a split; swap models. Talks JSON-RPC over gpuctld's Unix socket with libuv (vim.loop),
-- nothing else needed.
--
--   require("gpuctl").setup({ model = "llama3.1:8b" })   -- optional; or :GpuctlPrompt MODEL
--   :GpuctlPrompt [MODEL]      the buffer, or with a range (:'<,'>GpuctlPrompt) the lines
--   :GpuctlSwap MODEL          make MODEL the one resident model
--   :GpuctlStop                stop the answer being streamed (gpuctld stops Ollama too)
local M = {}

M.config = { socket = nil, model = nil, split = "vnew" }

local uv = vim.loop
local current = nil

--- The socket as gpuctl finds it: setup's, $GPUCTL_SOCKET, $XDG_RUNTIME_DIR/gpuctl/gpuctld.sock, /run/gpuctl/gpuctld.sock.
function M.socket()
  if M.config.socket then return M.config.socket end
  local env = os.getenv("GPUCTL_SOCKET")
  if env and env ~= "" then return env end
  local runtime = os.getenv("XDG_RUNTIME_DIR")
  if runtime and uv.fs_stat(runtime .. "/gpuctl/gpuctld.sock") then return runtime .. "/gpuctl/gpuctld.sock" end
  return "/run/gpuctl/gpuctld.sock"
end

--- Sends one request. `on_data(data)` gets each stream notification's data, `on_done(result, err)`
--- the reply (err = { kind = ..., message = ... }). Callbacks run on the main loop. Returns a
--- handle whose `stop()` hangs up, which makes gpuctld cancel the call.
function M.request(method, params, on_data, on_done)
  local pipe = uv.new_pipe(false)
  local finished = false
  local buffer = ""
  local function finish(result, err)
    if finished then return end
    finished = true
    if not pipe:is_closing() then pipe:close() end
    vim.schedule(function() on_done(result, err) end)
  end
  local function handle_line(line)
    vim.schedule(function()
      local ok, message = pcall(vim.fn.json_decode, line)
      if not ok or type(message) ~= "table" then return finish(nil, { kind = "protocol", message = "gpuctld sent a line that is not JSON" }) end
      if message.method == "stream" then
        if on_data and not finished then on_data(message.params.data) end
      elseif message.error then
        local data = message.error.data
        finish(nil, { kind = type(data) == "table" and data.kind or "error", message = message.error.message })
      else
        finish(message.result, nil)
      end
    end)
  end
  pipe:connect(M.socket(), function(err)
    if err then
      return finish(nil, { kind = "not_running", message = "gpuctld is not running on " .. M.socket() .. " (" .. err .. "); start it or set GPUCTL_SOCKET" })
    end
    local request = { jsonrpc = "2.0", id = 1, method = method, params = params or vim.empty_dict() }
    vim.schedule(function()
      pipe:write(vim.fn.json_encode(request) .. "\n")
    end)
    pipe:read_start(function(read_err, chunk)
      if read_err or not chunk then
        return finish(nil, { kind = "closed", message = "gpuctld closed the connection" .. (read_err and (": " .. read_err) or "") })
      end
      buffer = buffer .. chunk
      while true do
        local newline = buffer:find("\n", 1, true)
        if not newline then break end
        local line = buffer:sub(1, newline - 1)
        buffer = buffer:sub(newline + 1)
        if line:match("%S") then handle_line(line) end
      end
    end)
  end)
  return { stop = function() finish(nil, { kind = "cancelled", message = "stopped" }) end }
end

local function notify(text, level) vim.notify("gpuctl: " .. text, level or vim.log.levels.INFO) end

--- Streams `model`'s answer to `prompt` into a new scratch split; returns that buffer.
function M.prompt(prompt, model)
  model = model or M.config.model or vim.g.gpuctl_model
  if not model or model == "" then return notify("name a model: :GpuctlPrompt MODEL, or setup({ model = ... })", vim.log.levels.ERROR) end
  if current then current.stop() end
  vim.cmd(M.config.split)
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].filetype = "markdown"
  pcall(vim.api.nvim_buf_set_name, buf, "gpuctl://" .. model .. "/" .. buf)
  local function append(text)
    if not vim.api.nvim_buf_is_valid(buf) then return end
    local last = vim.api.nvim_buf_line_count(buf)
    local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
    local pieces = vim.split(tail .. text, "\n", { plain = true })
    vim.api.nvim_buf_set_lines(buf, last - 1, last, false, pieces)
  end
  current = M.request("generate", { model = model, prompt = prompt }, function(data)
    if data.text then append(data.text) end
  end, function(result, err)
    current = nil
    if err then
      if err.kind ~= "cancelled" then append("\n\n[gpuctl: " .. err.message .. " (" .. err.kind .. ")]") end
      return
    end
    notify(result.model .. " answered in " .. math.floor(result.gpuctl.totalMs) .. " ms")
  end)
  return buf
end

--- Makes `model` the one resident model.
function M.swap(model, on_done)
  M.request("models.swap", { model = model }, nil, function(result, err)
    if err then notify(err.message, vim.log.levels.ERROR) else
      notify(result.model .. " " .. result.outcome .. "; resident: " .. table.concat(result.resident, ", "))
    end
    if on_done then on_done(result, err) end
  end)
end

function M.stop()
  if current then current.stop() end
end

function M.setup(options)
  M.config = vim.tbl_extend("force", M.config, options or {})
end

return M
