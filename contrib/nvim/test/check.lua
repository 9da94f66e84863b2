-- Run by ContribTests (GPUCTL_SOCKET and GPUCTL_CHECK_OUT set):
--   nvim --headless -u NONE --cmd "set rtp+=contrib/nvim" --cmd "runtime plugin/gpuctl.lua" -c "luafile contrib/nvim/test/check.lua"
local gpuctl = require("gpuctl")
local out = {}
local swapped
gpuctl.swap("llama3.2:3b", function(result, err) swapped = result and ("swapped " .. result.model) or ("swap failed " .. err.kind) end)
vim.wait(20000, function() return swapped ~= nil end, 20)
table.insert(out, tostring(swapped))
vim.api.nvim_buf_set_lines(0, 0, -1, false, { "Say", "something" })
vim.cmd("1,2GpuctlPrompt small")
local buf = vim.api.nvim_get_current_buf()
local answered = vim.wait(20000, function()
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n"):find("lazy dog") ~= nil
end, 20)
table.insert(out, "answer " .. table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\\n"))
local failed
gpuctl.request("models.swap", { model = "no-such-model" }, nil, function(_, err) failed = err end)
vim.wait(20000, function() return failed ~= nil end, 20)
table.insert(out, "error " .. (failed and failed.kind or "none"))
vim.fn.writefile(out, os.getenv("GPUCTL_CHECK_OUT"))
vim.cmd(answered and "qa!" or "cq")
