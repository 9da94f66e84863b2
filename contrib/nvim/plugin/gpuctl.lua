-- Commands of gpuctl.nvim (contrib/nvim/lua/gpuctl/init.lua).
if vim.g.loaded_gpuctl then return end
vim.g.loaded_gpuctl = true

vim.api.nvim_create_user_command("GpuctlPrompt", function(opts)
  local first, last = 0, -1
  if opts.range > 0 then first, last = opts.line1 - 1, opts.line2 end
  local lines = vim.api.nvim_buf_get_lines(0, first, last, false)
  require("gpuctl").prompt(table.concat(lines, "\n"), opts.args ~= "" and opts.args or nil)
end, { nargs = "?", range = true, desc = "Send the buffer or the selected lines to a model through gpuctld" })

vim.api.nvim_create_user_command("GpuctlSwap", function(opts)
  require("gpuctl").swap(opts.args)
end, { nargs = 1, desc = "Make MODEL the one resident model" })

vim.api.nvim_create_user_command("GpuctlStop", function()
  require("gpuctl").stop()
end, { desc = "Stop the answer being streamed" })
