"""The official `openai` package against `dera serve`: a chat completion, a streamed one, logprobs, the dera
fields through extra_body, and an error the client raises as BadRequestError."""
import openai
import pytest


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server["url"] + "/v1", api_key="unused", max_retries=0, timeout=300)


QUESTION = [{"role": "user", "content": "Which planet has a prominent ring system?"}]


def test_models_lists_the_served_model(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct.Q4_1.gguf"]


def test_chat_completion(client):
    response = client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1.gguf", messages=QUESTION,
                                              max_tokens=16, temperature=0)
    assert response.object == "chat.completion"
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert 1 <= response.usage.completion_tokens <= 16
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_streamed_completion_matches_the_whole_one(client):
    whole = client.chat.completions.create(model="m", messages=QUESTION, max_tokens=16)
    stream = client.chat.completions.create(model="m", messages=QUESTION, max_tokens=16, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_logprobs(client):
    response = client.chat.completions.create(model="m", messages=QUESTION, max_tokens=6, logprobs=True,
                                              top_logprobs=3)
    content = response.choices[0].logprobs.content
    assert len(content) == response.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        # Greedy: the chosen token is the most likely one.
        assert entry.top_logprobs[0].token == entry.token


def test_dera_fields_through_extra_body(client, server):
    response = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "How high is Mount Kilimanjaro?"}], max_tokens=40,
        extra_body={"dera": {"lambda": 1, "k": 2, "check": True, "db": server["store"]}})
    dera = response.model_extra["dera"]
    assert dera["lambda"] == 1
    assert dera["citations"][0]["title"] == "Mount Kilimanjaro"
    assert dera["check"]["claims"], "the answer's claims are checked"
    assert all(c["label"] in ("supported", "unsupported", "unverifiable") for c in dera["check"]["claims"])
    assert response.choices[0].message.content == dera["answer"]


def test_dera_auto_streamed(client):
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Where is Lake Baikal?"}], max_tokens=24, stream=True,
        extra_body={"dera": {"lambda": "auto"}})
    chunks = list(stream)
    dera = [c.model_extra["dera"] for c in chunks if (c.model_extra or {}).get("dera")]
    assert len(dera) == 1
    candidates = dera[0]["candidates"]
    assert [c["lambda"] for c in candidates][0] == 0
    assert dera[0]["lambda"] == candidates[dera[0]["chosen"]]["lambda"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == dera[0]["answer"]


def test_bad_values_raise_bad_request(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="m", messages=QUESTION, max_tokens=4,
                                       extra_body={"dera": {"lambda": -2}})
    assert raised.value.status_code == 400
    assert raised.value.body["param"] == "dera.lambda"
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="m", messages=QUESTION, max_tokens=4, extra_body={"max_token": 3})
    assert raised.value.body["code"] == "unknown_field"


def test_a_client_that_hangs_up_stops_its_decoding(server):
    """Closing a stream stops the sequence at the next token instead of decoding to max_tokens."""
    import http.client
    import json
    import time
    import urllib.parse

    address = urllib.parse.urlparse(server["url"])

    def engine():
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        connection.request("GET", "/health")
        return json.loads(connection.getresponse().read())["engine"]

    before = engine()
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
    body = {"messages": [{"role": "user", "content": "Count from 1 to 500, separated by commas."}], "max_tokens": 400,
            "stream": True}
    connection.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200
    events = 0
    while events < 3:
        if response.readline().startswith(b"data: "):
            events += 1
    connection.sock.close()
    connection.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        after = engine()
        if after["running"] == 0 and after["batches"] > before["batches"]:
            break
        time.sleep(0.1)
    assert after["running"] == 0
    generated = after["generated_tokens"] - before["generated_tokens"]
    assert 0 < generated < 200, f"{generated} tokens decoded for a client that left after 3 events"
