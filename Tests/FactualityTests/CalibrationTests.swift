import Foundation
import Testing
@testable import Factuality

struct CalibrationTests {
    /// A small deterministic generator, so the synthetic data is the same on every run.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
    }

    @Test func fitRecoversKnownWeights() throws {
        // Labels drawn from sigmoid(1.5 x0 - 2 x1 + 0.5): the fit should find those raw weights.
        var random = SplitMix(state: 7)
        var x: [[Double]] = [], y: [Bool] = []
        for _ in 0..<20_000 {
            let row = [random.next() * 4 - 2, random.next() * 2]
            let p = 1 / (1 + exp(-(1.5 * row[0] - 2 * row[1] + 0.5)))
            x.append(row)
            y.append(random.next() < p)
        }
        let model = try LogisticModel.fit(features: ["a", "b"], x: x, y: y, l2: 0)
        let raw = model.rawWeights
        #expect(abs(raw.weights[0] - 1.5) < 0.1)
        #expect(abs(raw.weights[1] + 2) < 0.15)
        #expect(abs(raw.bias - 0.5) < 0.15)
        #expect(abs(model.probability([0, 0]) - 1 / (1 + exp(-0.5))) < 0.03)
    }

    @Test func fitRejectsBadData() {
        #expect(throws: CalibrationError.self) { try LogisticModel.fit(features: ["a"], x: [[1], [2]], y: [true, true]) }
        #expect(throws: CalibrationError.self) { try LogisticModel.fit(features: ["a"], x: [[1], [.nan]], y: [true, false]) }
        #expect(throws: CalibrationError.self) { try LogisticModel.fit(features: ["a", "b"], x: [[1], [2]], y: [true, false]) }
    }

    @Test func calibrationFileRoundTrips() throws {
        var file = CheckerCalibration()
        var profile = CalibrationProfile()
        var model = LogisticModel(features: CheckerFeature.lexical.map(\.rawValue), mean: [0.5, 0.5, 0, 0, 0.9, 0],
                                  scale: [0.2, 0.3, 1, 1, 0.1, 1], weights: [1, 2, -3, -1, 0.5, -0.2], bias: 0.1,
                                  threshold: 0.4)
        model.aggregate = .mean
        profile.lexical = model
        profile.signals["lexicalSupport"] = model
        profile.trainedOn["lexical"] = "synthetic"
        profile.claimUnit = .sentence
        file.profiles["qa"] = profile
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dera-calibration-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try file.write(to: path)
        #expect(try CheckerCalibration.load(path) == file)
        #expect(throws: CalibrationError.noProfile(path: path, profile: "summarization", available: ["qa"])) {
            try CheckerCalibration.load(path).profile("summarization", path: path)
        }
    }

    @Test func missingAndBrokenFilesSayWhat() throws {
        #expect(throws: CalibrationError.missing(path: "/nonexistent/calibration.json")) {
            try CheckerCalibration.load("/nonexistent/calibration.json")
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dera-broken-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"version": 1, "profiles": {"qa": {"signals": {}, "trainedOn": {}, "lexical": {"features": []}}}}"#.utf8)
            .write(to: URL(fileURLWithPath: path))
        do {
            _ = try CheckerCalibration.load(path)
            Issue.record("a broken file loaded")
        } catch let error as CalibrationError {
            #expect("\(error)".contains("profiles.qa.lexical"))
        }
    }

    @Test func checkerCutsClaimsAsItsProfileWasFitted() throws {
        var profile = CalibrationProfile()
        let features = CheckerFeature.lexical
        profile.lexical = LogisticModel(features: features.map(\.rawValue), mean: features.map { _ in 0 },
                                        scale: features.map { _ in 1 }, weights: [1, 1, -1, -1, 1, -1], bias: 0)
        let answer = "Curie was born in Warsaw in 1867, and she moved to Paris in 1891. She won two Nobel prizes."
        let passages = [Passage(id: "1", text: "Marie Curie was born in Warsaw in 1867 and moved to Paris in 1891.")]
        // A profile without a unit predates it: clauses, as it was fitted.
        #expect(try FactualityChecker(profile: profile).check(answer: answer, passages: passages, question: nil)
            .claims.map(\.text) == ["Curie was born in Warsaw in 1867", "she moved to Paris in 1891.", "She won two Nobel prizes."])
        profile.claimUnit = .sentence
        #expect(try FactualityChecker(profile: profile).check(answer: answer, passages: passages, question: nil)
            .claims.map(\.text) == ["Curie was born in Warsaw in 1867, and she moved to Paris in 1891.", "She won two Nobel prizes."])
    }

    @Test func checkerRefusesAScorerOverOtherFeatures() {
        let model = LogisticModel(features: ["x"], mean: [0], scale: [1], weights: [1], bias: 0)
        #expect(throws: CalibrationError.self) { try FactualityChecker(scorer: model) }
    }
}

struct BinaryMetricsTests {
    @Test func rocAUC() {
        #expect(BinaryMetrics.rocAUC(scores: [0.9, 0.8, 0.2, 0.1], labels: [true, true, false, false]) == 1)
        #expect(BinaryMetrics.rocAUC(scores: [0.1, 0.2, 0.8, 0.9], labels: [true, true, false, false]) == 0)
        // One inversion of four pairs, and ties count half.
        #expect(BinaryMetrics.rocAUC(scores: [0.9, 0.3, 0.5, 0.1], labels: [true, true, false, false]) == 0.75)
        #expect(BinaryMetrics.rocAUC(scores: [0.5, 0.5], labels: [true, false]) == 0.5)
        #expect(BinaryMetrics.rocAUC(scores: [0.5], labels: [true]).isNaN)
    }

    @Test func balancedAccuracyAndItsBestThreshold() {
        let scores = [0.9, 0.8, 0.7, 0.4, 0.3, 0.6]
        let labels = [true, true, true, false, false, false]
        let expected: Double = (1 + 2.0 / 3) / 2
        #expect(abs(BinaryMetrics.balancedAccuracy(scores: scores, labels: labels, threshold: 0.5) - expected) < 1e-12)
        let best = BinaryMetrics.bestThreshold(scores: scores, labels: labels)
        #expect(best > 0.6 && best <= 0.7)
        #expect(BinaryMetrics.balancedAccuracy(scores: scores, labels: labels, threshold: best) == 1)
    }

    @Test func lengthBinsAreExactForShortOutputs() {
        #expect((1...6).map(CheckerEvaluation.lengthBin) == [1, 2, 3, 4, 5, 6])
        #expect(CheckerEvaluation.lengthBin(7) == CheckerEvaluation.lengthBin(7))
        #expect(CheckerEvaluation.lengthBin(100) > CheckerEvaluation.lengthBin(50))
    }
}
