import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The static files of the web page (`web/` in the repository): plain HTML, JavaScript and CSS, read from disk on
/// each request so the page can be edited while the server runs. Only flat file names are served.
struct WebPage: Sendable {
    let root: String

    static let types = ["html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                        "css": "text/css; charset=utf-8", "png": "image/png", "svg": "image/svg+xml"]

    func response(for name: String) -> Response {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let ext = (name as NSString).pathExtension
        guard !name.isEmpty, !name.hasPrefix("."), name.unicodeScalars.allSatisfy(allowed.contains),
              let type = Self.types[ext],
              let data = FileManager.default.contents(atPath: root + "/" + name) else {
            return Routes.response(.notFound("no page file '\(name)'"))
        }
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
