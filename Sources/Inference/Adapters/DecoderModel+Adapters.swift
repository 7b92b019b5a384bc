import CKernels
import COpenBLAS
import Formats

extension DecoderModel {
    /// Makes `adapter` available to batch rows and returns the index they name it by.
    /// - Throws: `ModelError.badTensorShape` when the adapter was made for a model of another shape.
    @discardableResult
    public func attach(_ adapter: LoRAAdapter) throws -> Int {
        guard adapter.layers.count == config.layerCount else {
            throw ModelError.invalidConfig(path: adapter.path, field: "layers",
                                           reason: "adapter has \(adapter.layers.count), model \(config.layerCount)")
        }
        for layer in adapter.layers {
            for (target, delta) in layer {
                let (outputs, inputs) = LoRAAdapter.shape(of: target, config: config)
                guard delta.inputs == inputs, delta.outputs == outputs else {
                    throw ModelError.badTensorShape(path: adapter.path, tensor: "\(target)", expected: [inputs, outputs],
                                                    found: [delta.inputs, delta.outputs])
                }
            }
        }
        adapters.append(adapter)
        return adapters.count - 1
    }

    /// Contiguous runs of rows that name the same adapter.
    func adapterRuns(_ batch: DecoderBatch) throws -> [(adapter: Int, rows: Range<Int>)] {
        var runs: [(adapter: Int, rows: Range<Int>)] = []
        for (row, adapter) in batch.adapters.enumerated() {
            guard let adapter else { continue }
            guard adapter >= 0, adapter < adapters.count else {
                throw ModelError.noSuchAdapter(index: adapter, attached: adapters.count)
            }
            if let last = runs.last, last.adapter == adapter, last.rows.upperBound == row {
                runs[runs.count - 1].rows = last.rows.lowerBound..<(row + 1)
            } else {
                runs.append((adapter, row..<(row + 1)))
            }
        }
        return runs
    }

    /// `y += x A^T B^T` for the rows of each run, for every product whose projection the run's adapter changes.
    /// The base product already sits in `y`; the low-rank part is computed in floats, as llama.cpp does.
    func addAdapterDeltas(layer: Int, _ products: [(TensorNames.LayerTensor, UnsafeMutablePointer<Float>)],
                          input x: UnsafeMutablePointer<Float>, runs: [(adapter: Int, rows: Range<Int>)]) {
        for run in runs {
            let deltas = adapters[run.adapter].layers[layer]
            for (target, y) in products {
                guard let delta = deltas[target] else { continue }
                let n = run.rows.count, first = run.rows.lowerBound
                let (rank, inputs, outputs) = (delta.rank, delta.inputs, delta.outputs)
                if rank <= DERA_LORA_MAX_RANK {
                    // A few rows: one call, no BLAS call overhead (seven projections x layers add up).
                    delta.down.withUnsafeBufferPointer { a in
                        delta.upTransposed.withUnsafeBufferPointer { bt in
                            dera_lora_add(x + first * inputs, Int64(inputs), Int64(n), a.baseAddress, bt.baseAddress,
                                          Int64(rank), Int64(inputs), Int64(outputs), y + first * outputs, Int64(outputs))
                        }
                    }
                    continue
                }
                withUnsafeTemporaryAllocation(of: Float.self, capacity: n * rank) { t in
                    delta.down.withUnsafeBufferPointer { a in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(rank), Int32(inputs), 1,
                                    x + first * inputs, Int32(inputs), a.baseAddress, Int32(inputs), 0,
                                    t.baseAddress, Int32(rank))
                    }
                    delta.up.withUnsafeBufferPointer { b in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(outputs), Int32(rank), 1,
                                    t.baseAddress, Int32(rank), b.baseAddress, Int32(rank), 1,
                                    y + first * outputs, Int32(outputs))
                    }
                }
            }
        }
    }
}

extension DecoderWeights {
    /// These weights with `adapter` merged in: every adapted projection becomes an F32 matrix `W + B A`
    /// (dequantised base plus the dense update); the others stay views of the checkpoint. Costs the adapted
    /// matrices' size in floats; for tests and for exporting a merged model.
    public func merging(_ adapter: LoRAAdapter) throws -> DecoderWeights {
        var merged = self
        for (index, deltas) in adapter.layers.enumerated() {
            for (target, delta) in deltas {
                let keyPath: WritableKeyPath<DecoderLayerWeights, WeightMatrix> = switch target {
                case .query: \.query
                case .key: \.key
                case .value: \.value
                case .attentionOutput: \.attentionOutput
                case .gate: \.gate
                case .up: \.up
                default: \.down
                }
                let base = layers[index][keyPath: keyPath]
                let storage = FloatStorage(count: base.rows * base.columns)
                base.matrix.dequantize(rows: 0..<base.rows, into: storage.pointer)
                for (i, value) in delta.dense().enumerated() { storage.pointer[i] += value }
                merged.layers[index][keyPath: keyPath] = try WeightMatrix(
                    name: base.name, type: .f32, rows: base.rows, columns: base.columns,
                    base: UnsafeRawPointer(storage.pointer), owner: storage, path: adapter.path)
            }
        }
        return merged
    }
}

/// Floats owned by a matrix view that no checkpoint backs.
final class FloatStorage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(count: Int) {
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}
