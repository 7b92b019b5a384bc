import Factuality
import Retrieval

extension Retriever {
    /// The passages the factuality checker compares an answer with: the best `limit` hits for `question`,
    /// identified by their row ids.
    public func checkerPassages(for question: String, limit: Int) throws -> [Factuality.Passage] {
        try search(question, options: SearchOptions(limit: limit)).map { hit in
            Factuality.Passage(id: hit.passage.id.map { "\($0)" } ?? hit.source, text: hit.passage.text)
        }
    }
}
