;;; gpuctl.el --- Prompt local models through gpuctld, swap models -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "27.1"))
;; Keywords: tools, ai

;;; Commentary:

;; Talks JSON-RPC to gpuctld over its Unix socket (docs/rpc.md), with nothing but Emacs.
;;
;;   (require 'gpuctl)
;;   (setq gpuctl-model "llama3.1:8b")
;;
;;   M-x gpuctl-prompt-region   the region (or with no region, the buffer) as the prompt;
;;                              the answer streams into *gpuctl*
;;   M-x gpuctl-prompt-buffer   the whole buffer
;;   M-x gpuctl-swap            make a model the one resident model
;;   M-x gpuctl-stop            stop the answer being streamed (gpuctld stops Ollama too)

;;; Code:

(require 'json)
(require 'subr-x)

(defgroup gpuctl nil "Local models through gpuctld." :group 'tools)

(defcustom gpuctl-socket nil
  "gpuctld's socket; nil finds it as gpuctl does."
  :type '(choice (const nil) file))

(defcustom gpuctl-model nil
  "The model prompts go to when none is given."
  :type '(choice (const nil) string))

(defvar gpuctl--current nil "The process of the answer being streamed.")

(defun gpuctl-socket-path ()
  "The socket: `gpuctl-socket', $GPUCTL_SOCKET, $XDG_RUNTIME_DIR/gpuctl/gpuctld.sock, /run/gpuctl/gpuctld.sock."
  (or gpuctl-socket
      (let ((env (getenv "GPUCTL_SOCKET"))) (and env (not (string-empty-p env)) env))
      (let ((runtime (getenv "XDG_RUNTIME_DIR")))
        (and runtime (file-exists-p (expand-file-name "gpuctl/gpuctld.sock" runtime))
             (expand-file-name "gpuctl/gpuctld.sock" runtime)))
      "/run/gpuctl/gpuctld.sock"))

(defun gpuctl-request (method params on-data on-done)
  "Call METHOD with PARAMS (an alist).
ON-DATA gets each stream notification's data (an alist); ON-DONE gets (RESULT ERROR), ERROR
being an alist with `kind' and `message'.  Returns the process; deleting it cancels the call."
  (let* ((finished nil)
         (finish (lambda (process result error)
                   (unless finished
                     (setq finished t)
                     (when (process-live-p process) (delete-process process))
                     (funcall on-done result error))))
         (process
          (condition-case err
              (make-network-process
               :name "gpuctl" :family 'local :service (gpuctl-socket-path) :noquery t :coding 'utf-8
               :filter
               (lambda (process chunk)
                 (let ((pending (concat (or (process-get process 'pending) "") chunk)))
                   (while (string-match "\n" pending)
                     (let ((line (substring pending 0 (match-beginning 0))))
                       (setq pending (substring pending (match-end 0)))
                       (unless (string-blank-p line)
                         (let* ((message (json-parse-string line :object-type 'alist :null-object nil))
                                (error (alist-get 'error message)))
                           (cond ((equal (alist-get 'method message) "stream")
                                  (unless finished
                                    (funcall on-data (alist-get 'data (alist-get 'params message)))))
                                 (error
                                  (funcall finish process nil
                                           `((kind . ,(or (alist-get 'kind (alist-get 'data error)) "error"))
                                             (message . ,(alist-get 'message error)))))
                                 (t (funcall finish process (alist-get 'result message) nil)))))))
                   (process-put process 'pending pending)))
               :sentinel
               (lambda (process _event)
                 (unless (process-live-p process)
                   (funcall finish process nil '((kind . "closed") (message . "gpuctld closed the connection"))))))
            (file-error
             (funcall on-done nil `((kind . "not_running")
                                    (message . ,(format "gpuctld is not running on %s (%s); start it or set GPUCTL_SOCKET"
                                                        (gpuctl-socket-path) (or (nth 2 err) (cadr err))))))
             nil))))
    (when process
      (process-send-string
       process
       (concat (json-encode `((jsonrpc . "2.0") (id . 1) (method . ,method) (params . ,(or params (make-hash-table)))))
               "\n")))
    process))

(defun gpuctl--read-model ()
  (or gpuctl-model (read-string "Model: ")))

(defun gpuctl-prompt (prompt &optional model)
  "Send PROMPT to MODEL and stream the answer into the *gpuctl* buffer."
  (let ((model (or model (gpuctl--read-model)))
        (buffer (get-buffer-create "*gpuctl*")))
    (gpuctl-stop)
    (with-current-buffer buffer
      (let ((inhibit-read-only t)) (erase-buffer))
      (special-mode))
    (display-buffer buffer)
    (let ((append (lambda (text)
                    (when (buffer-live-p buffer)
                      (with-current-buffer buffer
                        (let ((inhibit-read-only t))
                          (save-excursion (goto-char (point-max)) (insert text))))))))
      (setq gpuctl--current
            (gpuctl-request
             "generate" `((model . ,model) (prompt . ,prompt))
             (lambda (data) (when-let ((text (alist-get 'text data))) (funcall append text)))
             (lambda (result error)
               (setq gpuctl--current nil)
               (if error
                   (unless (equal (alist-get 'kind error) "cancelled")
                     (funcall append (format "\n\n[gpuctl: %s (%s)]" (alist-get 'message error) (alist-get 'kind error))))
                 (message "gpuctl: %s answered in %d ms" (alist-get 'model result)
                          (round (alist-get 'totalMs (alist-get 'gpuctl result)))))))))
    buffer))

(defun gpuctl-prompt-region (start end &optional model)
  "Send the region from START to END (the buffer when none is active) to MODEL."
  (interactive (if (use-region-p) (list (region-beginning) (region-end)) (list (point-min) (point-max))))
  (gpuctl-prompt (buffer-substring-no-properties start end) model))

(defun gpuctl-prompt-buffer (&optional model)
  "Send the whole buffer to MODEL."
  (interactive)
  (gpuctl-prompt (buffer-substring-no-properties (point-min) (point-max)) model))

(defun gpuctl-swap (model &optional on-done)
  "Make MODEL the one resident model.  ON-DONE, if given, gets (RESULT ERROR)."
  (interactive (list (read-string "Swap to model: " gpuctl-model)))
  (gpuctl-request
   "models.swap" `((model . ,model)) #'ignore
   (lambda (result error)
     (if error
         (message "gpuctl: %s" (alist-get 'message error))
       (message "gpuctl: %s %s; resident: %s" (alist-get 'model result) (alist-get 'outcome result)
                (string-join (append (alist-get 'resident result) nil) ", ")))
     (when on-done (funcall on-done result error)))))

(defun gpuctl-stop ()
  "Stop the answer being streamed."
  (interactive)
  (when (process-live-p gpuctl--current) (delete-process gpuctl--current))
  (setq gpuctl--current nil))

(provide 'gpuctl)
;;; gpuctl.el ends here
