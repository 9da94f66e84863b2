import AsyncHTTPClient
import BackendHTTP
import Foundation
import GPUCtlModels
import NIOCore

/// Where `/upload/image` put a file: the name to give LoadImage (ComfyUI may rename it).
public struct UploadedImage: Sendable, Equatable {
    public var name: String
    public var subfolder: String
    public var type: String

    public init(name: String, subfolder: String, type: String) {
        self.name = name
        self.subfolder = subfolder
        self.type = type
    }
}

extension ComfyUIClient {
    /// `POST /upload/image` (multipart): stores `data` in ComfyUI's input folder. With the same
    /// name and different bytes ComfyUI renames the file unless `overwrite`; identical bytes
    /// keep the existing name. Use the returned name in the graph.
    public func uploadImage(_ data: Data, filename: String, overwrite: Bool = false) async throws(ComfyUIError) -> UploadedImage {
        let boundary = "gpuctl-\(UUID().uuidString)"
        var body = Data()
        func field(_ name: String, _ value: String) {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        let safeName = filename.replacingOccurrences(of: "\"", with: "_")
        body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"image\"; filename=\"\(safeName)\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8))
        body.append(data)
        body.append(Data("\r\n".utf8))
        field("type", "input")
        field("overwrite", overwrite ? "true" : "false")
        body.append(Data("--\(boundary)--\r\n".utf8))
        var request = HTTPClientRequest(url: baseURL + "/upload/image")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.body = .bytes(ByteBuffer(bytes: body))
        let endpoint = "\(baseURL)/upload/image"
        do {
            let response = try await http.http.execute(request, timeout: .seconds(Int64(transferTimeout.seconds)))
            let reply = try await response.body.collect(upTo: 1 << 20)
            guard response.status.code == 200 else {
                throw ComfyUIError(.status(Int(response.status.code), body: String(buffer: reply)), comfyEndpoint: endpoint)
            }
            guard let json = try? JSONParser.parse(reply.readableBytesView), let name = json["name"]?.stringValue else {
                throw ComfyUIError(kind: .decoding, status: nil, message: "ComfyUI's answer to \(endpoint) has no file name")
            }
            return UploadedImage(name: name, subfolder: json["subfolder"]?.stringValue ?? "", type: json["type"]?.stringValue ?? "input")
        } catch let error as ComfyUIError {
            throw error
        } catch {
            throw ComfyUIError(.unreachable(JSONHTTPClient.describe(error)), comfyEndpoint: endpoint)
        }
    }
}
