"""gpuctl.py: a client for gpuctld's socket, with nothing but Python's standard library.

    import gpuctl
    client = gpuctl.Client()                     # the socket as gpuctl finds it
    print(client.call("status")["budget"])
    client.swap("llama3.1:8b")
    for text in client.generate("llama3.1:8b", "Why is the sky blue?"):
        print(text, end="", flush=True)
    for event in client.events(["job"]):         # until you stop iterating
        print(event["type"], event.get("job"))

Or from a shell: python3 gpuctl.py status | swap MODEL | generate MODEL [PROMPT] | events [TYPE...]

Errors from the daemon are raised as GpuctlError with its stable `kind` and one-sentence message.
The protocol is documented in docs/rpc.md.
"""

import itertools
import json
import os
import socket
import sys

__all__ = ["Client", "GpuctlError", "default_socket"]


class GpuctlError(Exception):
    """An error answered by gpuctld: `kind` is stable (scripts match on it), `message` is for people."""

    def __init__(self, kind, message, code=None):
        super().__init__(f"{message} [{kind}]")
        self.kind = kind
        self.message = message
        self.code = code


def default_socket(environ=os.environ):
    """$GPUCTL_SOCKET, else $XDG_RUNTIME_DIR/gpuctl/gpuctld.sock, else /run/gpuctl/gpuctld.sock."""
    if environ.get("GPUCTL_SOCKET"):
        return environ["GPUCTL_SOCKET"]
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "gpuctl", "gpuctld.sock")):
        return os.path.join(runtime, "gpuctl", "gpuctld.sock")
    return "/run/gpuctl/gpuctld.sock"


class Client:
    """One connection per call, so a Client may be shared by threads and a stream never blocks a call."""

    def __init__(self, path=None, timeout=900.0):
        self.path = path or default_socket()
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, method, params=None):
        """Calls `method` and returns its result; stream notifications, if any, are dropped."""
        stream = self.stream(method, params)
        try:
            while True:
                next(stream)
        except StopIteration as done:
            return done.value

    def stream(self, method, params=None, timeout=None):
        """Yields each notification's `data`; the generator's return value is the result."""
        request_id = next(self._ids)
        request = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            request["params"] = params
        connection = self._connect(self.timeout if timeout is None else timeout)
        try:
            connection.sendall(json.dumps(request).encode() + b"\n")
            for line in self._lines(connection):
                message = json.loads(line)
                if message.get("method") == "stream":
                    yield message["params"]["data"]
                elif message.get("id") == request_id or "error" in message:
                    if "error" in message:
                        error = message["error"]
                        raise GpuctlError((error.get("data") or {}).get("kind", "error"), error["message"], error.get("code"))
                    return message["result"]
            raise GpuctlError("closed", f"gpuctld on {self.path} closed the connection without answering")
        finally:
            connection.close()

    def generate(self, model, prompt, **options):
        """Yields the answer's text as it arrives (extra keyword arguments go into the params)."""
        for data in self.stream("generate", dict(options, model=model, prompt=prompt)):
            if "error" in data:
                continue  # the error reply that follows is raised
            yield data.get("text", "")

    def chat(self, model, messages, **options):
        for data in self.stream("chat", dict(options, model=model, messages=messages)):
            if "text" in data:
                yield data["text"]

    def swap(self, model):
        return self.call("models.swap", {"model": model})

    def status(self):
        return self.call("status")

    def events(self, types=None):
        """Yields events (dicts with `type` and `time`) until the caller stops iterating."""
        stream = self.stream("events.subscribe", {"types": list(types)} if types else {}, timeout=0)
        try:
            yield from stream
        finally:
            stream.close()

    def _connect(self, timeout):
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(timeout or None)
        try:
            connection.connect(self.path)
        except FileNotFoundError:
            connection.close()
            raise GpuctlError("not_running", f"gpuctld is not running: no socket at {self.path}; start gpuctld or set GPUCTL_SOCKET")
        except PermissionError:
            connection.close()
            raise GpuctlError("forbidden", f"you may not use {self.path}; ask for the daemon's --allow-group")
        except ConnectionRefusedError:
            connection.close()
            raise GpuctlError("not_running", f"gpuctld is not running: nothing answers on {self.path}")
        return connection

    @staticmethod
    def _lines(connection):
        buffer = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield line


def main(argv):
    usage = "usage: gpuctl.py status | swap MODEL | generate MODEL [PROMPT] | events [TYPE...] | call METHOD [PARAMS_JSON]"
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    client = Client()
    command, args = argv[0], argv[1:]
    try:
        if command == "status" and not args:
            status = client.status()
            budget = status["budget"]
            print(f"budget {budget['budget'] / 2**30:.1f} GiB of {budget['total'] / 2**30:.1f} GiB; "
                  f"ollama {status['backends']['ollama']['state']}, comfyui {status['backends']['comfyui']['state']}")
        elif command == "swap" and len(args) == 1:
            result = client.swap(args[0])
            print(f"{result['model']} {result['outcome']}; resident: {', '.join(result['resident'])}")
        elif command == "generate" and len(args) in (1, 2):
            prompt = args[1] if len(args) == 2 else sys.stdin.read()
            for text in client.generate(args[0], prompt):
                print(text, end="", flush=True)
            print()
        elif command == "events":
            for event in client.events(args or None):
                print(json.dumps(event), flush=True)
        elif command == "call" and len(args) in (1, 2):
            print(json.dumps(client.call(args[0], json.loads(args[1]) if len(args) == 2 else None)))
        else:
            print(usage, file=sys.stderr)
            return 2
    except GpuctlError as error:
        print(f"gpuctl.py: {error}", file=sys.stderr)
        return 69 if error.kind == "not_running" else 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
