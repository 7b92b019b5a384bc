import Factuality
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Inference
import Pipelines
import Realign
import Retrieval
@testable import Serving
import Testing
import Tokenization

/// The server in this process on a free loopback port, with SmolLM2, its committed adapter, the lexical checker
/// and a three-document store made here.
struct TestServer {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static let modelPath = root + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    static var modelAvailable: Bool {
        FileManager.default.fileExists(atPath: modelPath) || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// Opened once for every test: the weights are mapped, not copied.
    static let shared: (bundle: ModelBundle, pair: RealignmentPair, check: SelfCheck, store: PassageStore)? = {
        guard let bundle = try? ModelBundle.open(modelPath, workers: 2),
              let adapter = try? LoRAAdapter.open(root + "/models/adapters/smollm2-dpo-beta0.1", for: bundle.model),
              let pair = try? RealignmentPair(reference: bundle, adapter: adapter),
              let calibration = try? CheckerCalibration.load(root + "/" + CheckerCalibration.defaultPath),
              let profile = try? calibration.profile("general", path: "calibration"),
              let checker = try? FactualityChecker(profile: profile),
              let store = try? makeStore() else { return nil }
        return (bundle, pair, SelfCheck(checker: checker), store)
    }()

    static func makeStore() throws -> PassageStore {
        let path = NSTemporaryDirectory() + "dera-serve-\(getpid())-\(UUID().uuidString).sqlite"
        let store = try PassageStore(path: path)
        let documents = [
            ("Mount Kilimanjaro", "Mount Kilimanjaro is a dormant volcano in Tanzania. It is 5,895 metres high."),
            ("Lake Baikal", "Lake Baikal is a rift lake in Siberia, Russia. It is the deepest lake in the world."),
            ("Saturn", "Saturn is the sixth planet from the Sun and has a prominent ring system."),
        ]
        _ = try Ingestor(store: store).ingest(documents: documents.map {
            ExtractedDocument(source: "test://\($0.0)", title: $0.0, text: $0.1)
        })
        return store
    }

    let server: DeraServer
    let task: Task<Void, any Error>
    let base: URL

    /// Starts a server; `configure` adjusts the setup (queue limits, batch window) first.
    static func start(_ configure: (inout ServingSetup) -> Void = { _ in }) async throws -> TestServer {
        let shared = try #require(shared, "SmolLM2, its adapter and the calibration must open")
        var answerer = GroundedAnswerer(store: shared.store, bundle: shared.bundle,
                                        template: try PromptTemplate(contentsOf: root + "/prompts/grounded-qa.txt"))
        answerer.passageCount = 2
        answerer.selfCheck = shared.check
        var setup = ServingSetup(modelName: "smollm2-test", bundle: shared.bundle, pair: shared.pair,
                                 stores: [ServedStore(name: "tiny.sqlite", path: "/tmp/tiny.sqlite", answerer: answerer)],
                                 selfCheck: shared.check, groundedSetting: .fixed(1), chatLambda: 1)
        setup.limits.maxBodyBytes = 64 * 1024
        setup.limits.maxTokens = 256
        configure(&setup)
        let server = DeraServer(service: DeraService(setup: setup), host: "127.0.0.1", port: 0)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task {
            try await server.run(signals: false) { port in continuation.yield(port) }
        }
        var port = 0
        for await bound in ports {
            port = bound
            break
        }
        return TestServer(server: server, task: task, base: URL(string: "http://127.0.0.1:\(port)")!)
    }

    func stop() async {
        await server.shutdown()
        _ = try? await task.value
    }

    struct Reply {
        var status: Int
        var body: Data
        var headers: [String: String]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
    }

    func post(_ path: String, _ body: Data) async throws -> Reply {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = body
        request.timeoutInterval = 300
        return try await send(request)
    }

    func post(_ path: String, json: [String: Any]) async throws -> Reply {
        try await post(path, try JSONSerialization.data(withJSONObject: json))
    }

    func get(_ path: String) async throws -> Reply {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.timeoutInterval = 60
        return try await send(request)
    }

    func send(_ request: URLRequest) async throws -> Reply {
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields { headers["\(key)".lowercased()] = "\(value)" }
        return Reply(status: http.statusCode, body: data, headers: headers)
    }

    static func chat(_ content: String, maxTokens: Int = 12, extra: [String: Any] = [:]) -> [String: Any] {
        var body: [String: Any] = ["model": "smollm2-test", "messages": [["role": "user", "content": content]],
                                   "max_tokens": maxTokens]
        body.merge(extra) { $1 }
        return body
    }

    static func content(_ reply: Reply) -> String? {
        ((reply.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
    }
}

@Suite(.serialized, .enabled(if: TestServer.modelAvailable, "needs models/SmolLM2-135M-Instruct.Q4_1.gguf (scripts/setup)"))
struct ServerTests {
    @Test func chatCompletionAnswersWithUsageAndLambda() async throws {
        let server = try await TestServer.start()
        let request = TestServer.chat("Name a planet with rings.", maxTokens: 10, extra: ["dera": ["lambda": 0.5, "retrieve": false]])
        let reply = try await server.post("v1/chat/completions", json: request)
        let again = try await server.post("v1/chat/completions", json: request)
        await server.stop()
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["object"] as? String == "chat.completion")
        #expect((reply.json["id"] as? String)?.hasPrefix("chatcmpl-") == true)
        let content = try #require(TestServer.content(reply))
        #expect(!content.isEmpty)
        let usage = try #require(reply.json["usage"] as? [String: Any])
        let completion = try #require(usage["completion_tokens"] as? Int)
        #expect((1...10).contains(completion))
        #expect(usage["total_tokens"] as? Int == completion + (usage["prompt_tokens"] as? Int ?? -1))
        let choice = try #require((reply.json["choices"] as? [[String: Any]])?.first)
        #expect(["stop", "length"].contains(choice["finish_reason"] as? String ?? ""))
        #expect((reply.json["dera"] as? [String: Any])?["lambda"] as? Double == 0.5)
        // Greedy without a temperature: the same request gives the same text.
        #expect(TestServer.content(again) == content)
    }

    @Test func streamIsWellFormedServerSentEventsEndingWithDone() async throws {
        let server = try await TestServer.start()
        let base = TestServer.chat("Say hello to Saturn.", maxTokens: 12)
        let whole = try await server.post("v1/chat/completions", json: base)
        var streamed = base
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        streamed["logprobs"] = true
        streamed["top_logprobs"] = 2
        let reply = try await server.post("v1/chat/completions", json: streamed)
        await server.stop()
        #expect(reply.status == 200)
        #expect((reply.headers["content-type"])?.hasPrefix("text/event-stream") == true)
        // Every event is one `data:` line followed by a blank line; the last is [DONE].
        #expect(reply.text.hasSuffix("\n\n"))
        let events = reply.text.components(separatedBy: "\n\n").dropLast()
        #expect(events.allSatisfy { $0.hasPrefix("data: ") && !$0.dropFirst(6).contains("\n") })
        #expect(events.last == "data: [DONE]")
        let chunks = try events.dropLast().map { event in
            try #require(try JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as? [String: Any])
        }
        #expect(chunks.count >= 3)
        #expect(Set(chunks.compactMap { $0["id"] as? String }).count == 1)
        #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        let choices = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first }
        #expect((choices.first?["delta"] as? [String: Any])?["role"] as? String == "assistant")
        let text = choices.compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }.joined()
        #expect(text == TestServer.content(whole))
        let finishes = choices.compactMap { $0["finish_reason"] as? String }
        #expect(finishes.count == 1 && ["stop", "length"].contains(finishes[0]))
        // Each content piece carries its token's log-probability (at most 0) and two alternatives.
        let logprobs = choices.compactMap { ($0["logprobs"] as? [String: Any])?["content"] as? [[String: Any]] }.flatMap { $0 }
        #expect(!logprobs.isEmpty)
        #expect(logprobs.allSatisfy { ($0["logprob"] as? Double ?? 1) <= 0 && ($0["top_logprobs"] as? [Any])?.count == 2 })
        // With include_usage the last chunk before [DONE] has no choices and the usage.
        #expect((chunks.last?["choices"] as? [Any])?.isEmpty == true)
        #expect((chunks.last?["usage"] as? [String: Any])?["completion_tokens"] as? Int == logprobs.count)
    }

    @Test func badRequestsAreJSONErrorsNamingTheField() async throws {
        let server = try await TestServer.start()
        let broken = try await server.post("v1/chat/completions", Data(#"{"messages": [{"role": "user", "content": "hi"}"#.utf8))
        #expect(broken.status == 400)
        #expect(broken.error["type"] as? String == "invalid_request_error")
        #expect(broken.error["code"] as? String == "invalid_json")
        #expect((broken.error["message"] as? String)?.isEmpty == false)

        let cases: [([String: Any], String)] = [
            (TestServer.chat("hi", extra: ["max_token": 5]), "max_token"),
            (TestServer.chat("hi", extra: ["dera": ["lambda": 0.5, "lamda": 1]]), "dera.lamda"),
            (TestServer.chat("hi", extra: ["dera": ["lambda": -1]]), "dera.lambda"),
            (TestServer.chat("hi", extra: ["dera": ["lambda": 1e39]]), "dera.lambda"),
            (TestServer.chat("hi", extra: ["dera": ["lambda": "sometimes"]]), "dera.lambda"),
            (TestServer.chat("hi", extra: ["dera": ["k": 0]]), "dera.k"),
            (TestServer.chat("hi", extra: ["dera": ["db": "elsewhere.sqlite"]]), "dera.db"),
            (TestServer.chat("hi", maxTokens: 0), "max_tokens"),
            (TestServer.chat("hi", maxTokens: 100_000), "max_tokens"),
            (TestServer.chat("hi", extra: ["temperature": 7]), "temperature"),
            (TestServer.chat("hi", extra: ["n": 2]), "n"),
            (TestServer.chat("hi", extra: ["messages": [["role": "tool", "content": "x"]]]), "messages[0].role"),
            (TestServer.chat("hi", extra: ["messages": [["role": "user"]]]), "messages[0].content"),
            (TestServer.chat("hi", extra: ["seed": "seven"]), "seed"),
            (TestServer.chat("hi", extra: ["messages": [["role": "user", "content": "x", "tone": "calm"]]]), "messages[0].tone"),
            (TestServer.chat("hi", extra: ["messages": [["role": "user", "content": [["type": "text", "text": "x", "lang": "en"]]]]]),
             "messages[0].content[0].lang"),
            (TestServer.chat("hi", extra: ["stream": true, "stream_options": ["include_usage": true, "usage": true]]),
             "stream_options.usage"),
        ]
        for (body, param) in cases {
            let reply = try await server.post("v1/chat/completions", json: body)
            #expect(reply.status == 400, "\(param): \(reply.text)")
            #expect(reply.error["param"] as? String == param, "\(reply.text)")
            #expect(reply.error["type"] as? String == "invalid_request_error")
        }
        let ask = try await server.post("v1/ask", json: ["question": "Where is Kilimanjaro?", "k": -3])
        #expect(ask.status == 400 && ask.error["param"] as? String == "k")
        let search = try await server.post("v1/search", json: ["query": "volcano", "limit": 3])
        #expect(search.status == 400 && search.error["param"] as? String == "limit")
        let large = try await server.post("v1/chat/completions", Data(repeating: UInt8(ascii: " "), count: 100 * 1024))
        #expect(large.status == 413 && large.error["code"] as? String == "request_too_large")
        let missing = try await server.get("v1/nothing")
        await server.stop()
        #expect(missing.status == 404 && missing.error["code"] as? String == "not_found")
    }

    @Test func fullQueueAnswers503() async throws {
        let server = try await TestServer.start { setup in
            setup.engine.queueLimit = 0
            setup.engine.batchWindow = 0
        }
        let long = TestServer.chat("Count from 1 to 200, separated by commas.", maxTokens: 160)
        let first = Task { try await server.post("v1/chat/completions", json: long) }
        // Wait until the engine is decoding it, then a second request finds no room.
        var running = false
        for _ in 0..<400 where !running {
            let health = try await server.get("health")
            running = (health.json["engine"] as? [String: Any])?["running"] as? Int == 1
            if !running { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(running)
        let refused = try await server.post("v1/chat/completions", json: TestServer.chat("Hello"))
        let finished = try await first.value
        let health = try await server.get("health")
        await server.stop()
        #expect(refused.status == 503, "\(refused.text)")
        #expect(refused.error["type"] as? String == "server_overloaded")
        #expect(refused.headers["retry-after"] == "1")
        #expect(finished.status == 200)
        #expect((health.json["engine"] as? [String: Any])?["rejected"] as? Int == 1)
    }

    @Test func aRequestThatWaitedPastTheQueueTimeoutIs503() async throws {
        let server = try await TestServer.start { setup in setup.engine.queueTimeout = 0 }
        let reply = try await server.post("v1/chat/completions", json: TestServer.chat("Hello", extra: ["stream": true]))
        await server.stop()
        #expect(reply.status == 503, "\(reply.text)")
        #expect((reply.error["message"] as? String)?.contains("in the queue") == true)
    }

    @Test func withoutAnAlignedSideOnlyLambdaZeroIsAccepted() async throws {
        let server = try await TestServer.start { setup in
            setup.pair = nil
            setup.chatLambda = 0
            setup.groundedSetting = .fixed(0)
        }
        let plain = try await server.post("v1/chat/completions", json: TestServer.chat("Hello", maxTokens: 6))
        let grounded = try await server.post("v1/ask", json: ["question": "Where is Lake Baikal?", "max_tokens": 12])
        let refused = try await server.post("v1/chat/completions", json: TestServer.chat("Hello", extra: ["dera": ["lambda": 0.5]]))
        let auto = try await server.post("v1/ask", json: ["question": "Where is Lake Baikal?", "lambda": "auto"])
        let health = try await server.get("health")
        await server.stop()
        #expect(plain.status == 200 && plain.json["dera"] == nil)
        #expect(grounded.status == 200 && grounded.json["lambda"] == nil)
        #expect(refused.status == 400 && refused.error["code"] as? String == "no_aligned_side")
        #expect(auto.status == 400 && auto.error["param"] as? String == "lambda")
        #expect(health.json["realigning"] as? Bool == false)
    }

    @Test func requestsWithDifferentLambdasDecodeInOneBatchAsTheyWouldAlone() async throws {
        let server = try await TestServer.start { setup in setup.engine.batchWindow = 1 }
        let lambdas = [0.0, 0.5, 1.0, 2.0]
        func request(_ lambda: Double) -> [String: Any] {
            TestServer.chat("Describe Lake Baikal in one sentence.", maxTokens: 16, extra: ["dera": ["lambda": lambda, "retrieve": false]])
        }
        var alone: [String] = []
        for lambda in lambdas {
            alone.append(try #require(TestServer.content(try await server.post("v1/chat/completions", json: request(lambda)))))
        }
        let together = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for (i, lambda) in lambdas.enumerated() {
                group.addTask { (i, TestServer.content(try await server.post("v1/chat/completions", json: request(lambda)))) }
            }
            var texts = [String?](repeating: nil, count: lambdas.count)
            for try await (i, text) in group { texts[i] = text }
            return texts
        }
        let health = try await server.get("health")
        await server.stop()
        let engine = try #require(health.json["engine"] as? [String: Any])
        #expect(engine["most_lambdas_in_a_batch"] as? Int == lambdas.count)
        #expect(engine["largest_batch"] as? Int == lambdas.count)
        #expect(together == alone.map { Optional($0) })
        // The lambdas make a difference here, so the batch really mixed per request.
        #expect(Set(alone).count > 1)
    }

    @Test func groundedAnswersCiteAndCheckTheStore() async throws {
        let server = try await TestServer.start()
        let chat = try await server.post("v1/chat/completions", json: TestServer.chat(
            "How high is Mount Kilimanjaro?", maxTokens: 40, extra: ["dera": ["lambda": 1, "k": 2, "check": true]]))
        let ask = try await server.post("v1/ask", json: ["question": "How high is Mount Kilimanjaro?", "lambda": 1, "max_tokens": 40, "k": 2])
        let search = try await server.post("v1/search", json: ["query": "deepest lake", "k": 1, "db": "tiny.sqlite"])
        let check = try await server.post("v1/check", json: ["answer": "Lake Baikal is in Canada.",
                                                             "passages": ["Lake Baikal is a rift lake in Siberia, Russia."]])
        await server.stop()
        #expect(chat.status == 200, "\(chat.text)")
        let dera = try #require(chat.json["dera"] as? [String: Any])
        let citations = try #require(dera["citations"] as? [[String: Any]])
        // k = 2 bounds the passages; only the Kilimanjaro document shares words with the question.
        #expect((1...2).contains(citations.count))
        #expect(citations.first?["title"] as? String == "Mount Kilimanjaro")
        let report = try #require(dera["check"] as? [String: Any])
        #expect(!(report["claims"] as? [Any] ?? []).isEmpty)
        #expect(dera["lambda"] as? Double == 1)
        #expect(TestServer.content(chat) == dera["answer"] as? String)
        #expect(ask.status == 200)
        #expect(ask.json["answer"] as? String == dera["answer"] as? String)
        let hits = try #require(search.json["data"] as? [[String: Any]])
        #expect(hits.count == 1 && hits[0]["title"] as? String == "Lake Baikal")
        let claims = try #require(check.json["claims"] as? [[String: Any]])
        #expect(claims.first?["label"] as? String == "unsupported")
    }

    @Test func documentsInTheRequestGroundAndCheckTheAnswer() async throws {
        let server = try await TestServer.start()
        let documents = ["The Zorblat bridge was opened in 1931 and is 412 metres long.", "Zorblat is a town on the river Uvo."]
        let reply = try await server.post("v1/ask", json: ["question": "When was the Zorblat bridge opened?", "lambda": 0.5,
                                                           "max_tokens": 30, "documents": documents])
        let both = try await server.post("v1/ask", json: ["question": "When?", "documents": documents, "db": "tiny.sqlite"])
        let empty = try await server.post("v1/ask", json: ["question": "When?", "documents": ["ok", " "]])
        await server.stop()
        #expect(reply.status == 200, "\(reply.text)")
        let citations = try #require(reply.json["citations"] as? [[String: Any]])
        #expect(citations.compactMap { $0["source"] as? String } == ["document:1", "document:2"])
        #expect(citations.compactMap { $0["text"] as? String } == documents)
        let report = try #require(reply.json["check"] as? [String: Any])
        let claims = try #require(report["claims"] as? [[String: Any]])
        // Evidence, when found, points at one of the given documents by its citation number.
        for claim in claims {
            if let evidence = claim["evidence"] as? [String: Any] { #expect(["1", "2"].contains(evidence["passageID"] as? String ?? "")) }
        }
        #expect(both.status == 400 && both.error["param"] as? String == "documents")
        #expect(empty.status == 400 && empty.error["param"] as? String == "documents[1]")
    }

    @Test func summarizeGivesWhatDeraSummarizeGivesAndAnErrorItemForAnEmptyDocument() async throws {
        let template = try PromptTemplate(contentsOf: TestServer.root + "/prompts/summarize.txt")
        let server = try await TestServer.start { $0.summaryTemplate = template }
        let text = "The Zorblat bridge was opened in 1931. It is 412 metres long and crosses the river Uvo. "
            + "It was built by the town of Zorblat after the old ferry sank in 1927."
        let reply = try await server.post("v1/summarize", json: [
            "documents": [["id": "bridge", "title": "Zorblat bridge", "text": text], ["text": "  "]],
            "lambda": 0.5, "max_tokens": 40])
        let unknown = try await server.post("v1/summarize", json: ["documents": [["text": "x", "body": "y"]]])
        let none = try await server.post("v1/summarize", json: ["documents": [] as [Any]])
        await server.stop()
        #expect(reply.status == 200, "\(reply.text)")
        let items = try #require(reply.json["data"] as? [[String: Any]])
        try #require(items.count == 2)
        #expect(items[0]["id"] as? String == "bridge")
        #expect(items[0]["lambda"] as? Double == 0.5)
        #expect(items[0]["check"] is [String: Any] && items[0]["correctness"] is Double)
        #expect(items[1]["id"] as? String == "document:2")
        #expect((items[1]["error"] as? String)?.contains("no text") == true)
        // The same document through the summarizer `dera summarize` runs, at the same settings: the same summary.
        let shared = try #require(TestServer.shared)
        let decoder = OutputDecoder(bundle: shared.bundle, realignment: .init(pair: shared.pair, lambda: 0.5),
                                    maxTokens: 40, sampling: .greedy)
        let direct = try DocumentSummarizer(decoder: decoder, template: template)
            .summarize(ExtractedDocument(source: "x", title: "Zorblat bridge", text: text), id: "bridge")
        #expect(items[0]["summary"] as? String == direct.summary)
        #expect(unknown.status == 400 && (unknown.error["param"] as? String)?.contains("body") == true, "\(unknown.text)")
        #expect(none.status == 400 && none.error["param"] as? String == "documents")
    }

    @Test func autoChoosesAmongCandidatesDecodedTogether() async throws {
        let server = try await TestServer.start()
        let reply = try await server.post("v1/chat/completions", json: TestServer.chat(
            "Where is Lake Baikal?", maxTokens: 24, extra: ["stream": true, "dera": ["lambda": "auto", "candidates": [0.5, 1]]]))
        await server.stop()
        #expect(reply.status == 200)
        let events = reply.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.last == "data: [DONE]")
        let last = try #require(events.dropLast().last.flatMap { try JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any] })
        let dera = try #require(last["dera"] as? [String: Any])
        let candidates = try #require(dera["candidates"] as? [[String: Any]])
        #expect(candidates.compactMap { $0["lambda"] as? Double } == [0, 0.5, 1])
        let chosen = try #require(dera["chosen"] as? Int)
        #expect(dera["lambda"] as? Double == candidates[chosen]["lambda"] as? Double)
    }

    @Test func stopSequencesCutTheTextInBothModes() async throws {
        let server = try await TestServer.start()
        let open = TestServer.chat("Count from 1 to 20, separated by commas.", maxTokens: 40)
        let free = try await server.post("v1/chat/completions", json: open)
        var cut = open
        cut["stop"] = ["5"]
        let whole = try await server.post("v1/chat/completions", json: cut)
        cut["stream"] = true
        let streamed = try await server.post("v1/chat/completions", json: cut)
        await server.stop()
        let full = try #require(TestServer.content(free))
        let stopIndex = try #require(full.range(of: "5"), "the uncut answer counts past 5: \(full)")
        #expect(TestServer.content(whole) == String(full[..<stopIndex.lowerBound]))
        let choice = (whole.json["choices"] as? [[String: Any]])?.first
        #expect(choice?["finish_reason"] as? String == "stop")
        let pieces = streamed.text.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: {") }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8)) as? [String: Any]
        }.compactMap { ((($0["choices"] as? [[String: Any]])?.first)?["delta"] as? [String: Any])?["content"] as? String }
        #expect(pieces.joined() == TestServer.content(whole))
    }

    @Test func healthAndModels() async throws {
        let server = try await TestServer.start()
        let health = try await server.get("health")
        let models = try await server.get("v1/models")
        await server.stop()
        #expect(health.status == 200)
        #expect(health.json["status"] as? String == "ok")
        #expect(health.json["model"] as? String == "smollm2-test")
        #expect(health.json["realigning"] as? Bool == true)
        #expect(((models.json["data"] as? [[String: Any]])?.first)?["id"] as? String == "smollm2-test")
    }

    @Test func shutdownFinishesOpenRequestsThenRefusesConnections() async throws {
        let server = try await TestServer.start()
        let open = Task { try await server.post("v1/chat/completions", json: TestServer.chat("Count from 1 to 50.", maxTokens: 40)) }
        var running = false
        for _ in 0..<400 where !running {
            running = ((try await server.get("health")).json["engine"] as? [String: Any])?["running"] as? Int == 1
            if !running { try await Task.sleep(for: .milliseconds(10)) }
        }
        await server.stop()
        let finished = try await open.value
        #expect(finished.status == 200)
        #expect(TestServer.content(finished)?.isEmpty == false)
        await #expect(throws: (any Error).self) { _ = try await server.get("health") }
    }
}
