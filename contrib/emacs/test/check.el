;; Run by ContribTests (GPUCTL_SOCKET and GPUCTL_CHECK_OUT set):
;;   emacs --batch -Q -l contrib/emacs/gpuctl.el -l contrib/emacs/test/check.el
(let ((out (getenv "GPUCTL_CHECK_OUT")) (swapped nil) (failed nil) (deadline (+ (float-time) 20)))
  (gpuctl-swap "llama3.2:3b" (lambda (result error) (setq swapped (if result (concat "swapped " (alist-get 'model result)) (concat "swap failed " (alist-get 'kind error))))))
  (while (and (not swapped) (< (float-time) deadline)) (accept-process-output nil 0.02))
  (with-temp-buffer
    (insert "Say something")
    (gpuctl-prompt-region (point-min) (point-max) "small"))
  (setq deadline (+ (float-time) 20))
  (while (and (not (string-match-p "lazy dog" (with-current-buffer "*gpuctl*" (buffer-string)))) (< (float-time) deadline))
    (accept-process-output nil 0.02))
  (gpuctl-request "models.swap" '((model . "no-such-model")) #'ignore (lambda (_r e) (setq failed e)))
  (setq deadline (+ (float-time) 20))
  (while (and (not failed) (< (float-time) deadline)) (accept-process-output nil 0.02))
  (with-temp-file out
    (insert (format "%s\nanswer %s\nerror %s\n" swapped (with-current-buffer "*gpuctl*" (buffer-string)) (alist-get 'kind failed)))))
