/// Where each row of a batch goes: its position, the runs of rows of one sequence, the runs of one adapter.
struct RowPlan {
    let tokens: [Int]
    let positions: [Int]
    let runs: [(sequence: Int, rows: Range<Int>)]
    let adapterRuns: [(adapter: Int, rows: Range<Int>)]
    /// The rows one side of the batch would have alone (the rows that are no twin): what the choice of attention
    /// kernel goes by, so a row takes the same kernel beside its twins as without them.
    var shapeRows: Int

    init(_ batch: DecoderBatch, caches: [KVCache], model: DecoderModel) throws {
        let vocabularySize = model.config.vocabularySize
        var positions = [Int](repeating: 0, count: batch.count)
        var runs: [(sequence: Int, rows: Range<Int>)] = []
        var seen = Set<Int>()
        for row in 0..<batch.count {
            let token = batch.tokens[row]
            guard token >= 0, token < vocabularySize else {
                throw ModelError.tokenOutOfRange(token: token, vocabularySize: vocabularySize)
            }
            let s = batch.sequences[row]
            if let last = runs.last, last.sequence == s {
                runs[runs.count - 1].rows = last.rows.lowerBound..<(row + 1)
                positions[row] = positions[row - 1] + 1
            } else {
                precondition(seen.insert(s).inserted, "rows of sequence \(s) are not contiguous")
                runs.append((s, row..<(row + 1)))
                positions[row] = caches[s].length
            }
            guard positions[row] < caches[s].capacity else { throw ModelError.contextFull(capacity: caches[s].capacity) }
        }
        tokens = batch.tokens
        self.positions = positions
        self.runs = runs
        adapterRuns = try model.adapterRuns(batch)
        shapeRows = batch.count
    }
}

/// The batch's twin rows (``DecoderBatch/twins``): how many layers they share with their rows, the batch of the
/// other rows that computes those layers, and where each row's hidden state sits in it.
struct TwinPlan {
    /// Layers computed once for a row and its twins.
    let sharedLayers: Int
    /// The rows that are no twin, in order.
    let primaryBatch: DecoderBatch
    /// For each row, the index in `primaryBatch` of the row it is or is a twin of.
    let compactIndex: [Int]
    /// The twin rows.
    let twinRows: [Int]

    /// Nil when the batch has no twins.
    init?(_ batch: DecoderBatch, positions: [Int], model: DecoderModel) throws {
        guard batch.twins.contains(where: { $0 != nil }) else { return nil }
        let layerCount = model.config.layerCount
        func firstAdapted(_ row: Int) -> Int {
            guard let adapter = batch.adapter(row: row), adapter < model.adapters.count else { return layerCount }
            return model.adapters[adapter].firstAdaptedLayer
        }
        var shared = layerCount
        var primary = DecoderBatch(), compact = [Int](repeating: 0, count: batch.count), twinRows: [Int] = []
        var twinSequences: [Int: Bool] = [:]
        for row in 0..<batch.count {
            let isTwin = batch.twin(row: row) != nil
            if let earlier = twinSequences.updateValue(isTwin, forKey: batch.sequences[row]), earlier != isTwin {
                throw ModelError.invalidTwin(row: row, reason: "its sequence has rows with and without twins")
            }
            guard let of = batch.twin(row: row) else {
                compact[row] = primary.count
                primary.append(token: batch.tokens[row], sequence: batch.sequences[row], wantsLogits: false,
                               adapter: batch.adapter(row: row))
                continue
            }
            guard of >= 0, of < row, batch.twin(row: of) == nil else {
                throw ModelError.invalidTwin(row: row, reason: "row \(of) is not an earlier row without a twin")
            }
            guard batch.tokens[of] == batch.tokens[row], positions[of] == positions[row],
                  batch.sequences[of] != batch.sequences[row] else {
                throw ModelError.invalidTwin(row: row, reason: "row \(of) has another token or position, or the same sequence")
            }
            compact[row] = compact[of]
            twinRows.append(row)
            shared = min(shared, firstAdapted(row), firstAdapted(of))
        }
        sharedLayers = shared
        primaryBatch = primary
        compactIndex = compact
        self.twinRows = twinRows
    }

    /// Spreads the primary rows' hidden states (the first rows of `x`) to every row.
    func expand(_ x: UnsafeMutablePointer<Float>, width: Int, scratch: UnsafeMutablePointer<Float>) {
        scratch.update(from: x, count: primaryBatch.count * width)
        for (row, source) in compactIndex.enumerated() { (x + row * width).update(from: scratch + source * width, count: width) }
    }

    /// Gives each twin's cache its row's keys and values of `layer` (`k` and `v` hold the primary rows').
    func copyKeysAndValues(layer: Int, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, width: Int,
                           positions: [Int], sequences: [Int], caches: [KVCache]) {
        for row in twinRows {
            let cache = caches[sequences[row]], offset = positions[row] * width, source = compactIndex[row] * width
            (cache.keys(layer: layer) + offset).update(from: k + source, count: width)
            (cache.values(layer: layer) + offset).update(from: v + source, count: width)
        }
    }
}

/// The working arrays of one layer, sized for the whole batch.
struct LayerBuffers {
    let h, q, attention, k, v, gate, up, projected: UnsafeMutablePointer<Float>
}
