"""The official `ollama` and `openai` Python clients against gpuctld's Ollama door.

Run by OfficialClientTests (swift test) with GPUCTL_DOOR=http://127.0.0.1:PORT, gpuctld in
front of the fake Ollama. Prints "ok NAME" per check; the first failed check prints
"FAIL NAME: detail" and exits 1.
"""
import os
import sys

import ollama
import openai

door = os.environ["GPUCTL_DOOR"]


def check(name, condition, detail=""):
    if not condition:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


client = ollama.Client(host=door)

reply = client.generate(model="small", prompt="hi")
check("generate", reply.response.startswith("The quick") and reply.done, reply)

reply = client.chat(model="llama3.2:3b", messages=[{"role": "user", "content": "hi"}])
check("chat", reply.message.content.startswith("The quick") and reply.message.role == "assistant", reply)

parts = list(client.chat(model="llama3.2:3b", messages=[{"role": "user", "content": "hi"}], stream=True))
text = "".join(part.message.content for part in parts)
check("chat streamed", len(parts) == 13 and parts[-1].done and text == reply.message.content, parts[-1])

parts = list(client.generate(model="llama3.2:3b", prompt="hi", stream=True, options={"num_predict": 3}))
check("generate streamed", len(parts) == 4 and parts[-1].done_reason == "length", parts[-1])

vectors = client.embed(model="nomic-embed-text", input=["one", "two"])
check("embed", len(vectors.embeddings) == 2 and len(vectors.embeddings[0]) == 768, len(vectors.embeddings))

listed = client.list()
check("list", any(model.model == "llama3.2:3b" for model in listed.models), listed)

running = client.ps()
check("ps", any(model.model.startswith("llama3.2:3b") for model in running.models), running)

shown = client.show("llama3.2:3b")
check("show", shown.modelinfo is not None, shown)

progress = list(client.pull("tinyllama", stream=True))
check("pull streamed through", progress[0].status == "pulling manifest" and progress[-1].status == "success", progress)
check("pulled model listed", any(model.model == "tinyllama:latest" for model in client.list().models))

try:
    client.generate(model="no-such-model", prompt="hi")
    check("unknown model is 404", False, "no error")
except ollama.ResponseError as error:
    check("unknown model is 404", error.status_code == 404 and "not found" in error.error, error)

try:
    client.generate(model="huge", prompt="hi")
    check("never fits is 503", False, "no error")
except ollama.ResponseError as error:
    check("never fits is 503", error.status_code == 503 and "can never fit" in error.error, error)

ai = openai.OpenAI(base_url=door + "/v1", api_key="unused", max_retries=0)

completion = ai.chat.completions.create(model="llama3.2:3b", messages=[{"role": "user", "content": "hi"}])
choice = completion.choices[0]
check("openai chat", choice.message.content.startswith("The quick") and choice.finish_reason == "stop"
      and completion.usage.completion_tokens == 12 and completion.object == "chat.completion", completion)

chunks = list(ai.chat.completions.create(model="llama3.2:3b", messages=[{"role": "user", "content": "hi"}],
                                         stream=True, stream_options={"include_usage": True}))
streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
check("openai chat streamed", streamed == choice.message.content, streamed)
check("openai usage chunk", chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
      and chunks[-1].choices == [], chunks[-1])
check("openai finish reason", [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop", chunks[-2])

text = ai.completions.create(model="llama3.2:3b", prompt="hi", max_tokens=2)
check("openai completions", text.choices[0].text == "The quick" and text.choices[0].finish_reason == "length", text)

embedded = ai.embeddings.create(model="nomic-embed-text", input=["one", "two"])
check("openai embeddings", len(embedded.data) == 2 and len(embedded.data[1].embedding) == 768
      and embedded.data[1].index == 1, embedded.data[0].index)

models = ai.models.list()
check("openai models", any(model.id == "llama3.2:3b" for model in models.data), models)
check("openai model", ai.models.retrieve("llama3.2:3b").id == "llama3.2:3b")

try:
    ai.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    check("openai unknown model is 404", False, "no error")
except openai.NotFoundError as error:
    check("openai unknown model is 404", "not found" in error.message, error)

try:
    ai.chat.completions.create(model="huge", messages=[{"role": "user", "content": "hi"}])
    check("openai never fits is 503", False, "no error")
except openai.APIStatusError as error:
    check("openai never fits is 503", error.status_code == 503 and "can never fit" in error.message, error)

try:
    ai.chat.completions.create(model="llama3.2:3b", messages=[])
    check("openai empty messages is 400", False, "no error")
except openai.BadRequestError as error:
    check("openai empty messages is 400", "too short" in error.message, error)

print("all checks passed")
