import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Pipelines
import ServiceLifecycle

/// `dera serve`: the HTTP face of a ``DeraService`` (Hummingbird), run with the engine in one service group that
/// shuts down gracefully: on SIGTERM or SIGINT the server stops accepting connections and finishes the open ones,
/// then the engine finishes its queue.
public struct DeraServer: Sendable {
    public var host: String
    public var port: Int
    public let service: DeraService
    let logger: Logger
    private let group = Locked<ServiceGroup?>(nil)

    public init(service: DeraService, host: String = "127.0.0.1", port: Int = 8080, logger: Logger = Logger(label: "dera.serve")) {
        self.service = service
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// Serves until SIGTERM/SIGINT (when `signals`) or until the calling task is cancelled. `onRunning` gets the
    /// bound port (useful with port 0).
    public func run(signals: Bool = true, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let router = Router(context: BasicRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware(logger: logger))
        Routes(service: service, logger: logger).add(to: router)
        let logger = self.logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "dera"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("listening", metadata: ["host": "\(host)", "port": "\(port)"])
                await onRunning(port)
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [EngineService(engine: service.engine, logger: logger), app],
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [],
            logger: logger))
        self.group.set(group)
        try await group.run()
    }

    /// Shuts down as SIGTERM does: no new connections, open requests finish, then the engine's queue; ``run`` then
    /// returns.
    public func shutdown() async {
        await group.get()?.triggerGracefulShutdown()
    }
}

/// The engine as a service: on graceful shutdown (after the HTTP server, which the group stops first) it stops
/// taking jobs and finishes those queued.
struct EngineService: Service {
    let engine: Engine
    let logger: Logger

    func run() async throws {
        // Returns at graceful shutdown, or throws at cancellation: either way the queue is finished below.
        try? await gracefulShutdown()
        logger.info("engine draining")
        await engine.shutdown()
        logger.info("engine stopped", metadata: ["completed": "\(engine.snapshot.completed)"])
    }
}

/// Turns errors no handler answered (unknown route, wrong method) into OpenAI-shaped JSON.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return Routes.response(error)
        } catch let error as any HTTPResponseError {
            let status = Int(error.status.code)
            let message = status == 404 ? "no route \(request.method) \(request.uri.path)" : "\(error.status.reasonPhrase)"
            return Routes.response(APIError(status: status, message: message, type: "invalid_request_error",
                                            code: status == 404 ? "not_found" : nil))
        } catch {
            logger.error("unhandled error", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return Routes.response(APIError.server("internal error"))
        }
    }
}
