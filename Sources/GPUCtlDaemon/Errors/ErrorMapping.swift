import ComfyUIClient
import GPUCtlModels
import GPUCtlStore
import OllamaClient
import SpeechClient

extension RPCErrorPayload {
    /// The one place where an error becomes an RPC error kind and the sentence a caller reads:
    /// used at the edges only (the router's replies, a stream's error notification, events).
    init(_ error: any Error) {
        switch error {
        case let payload as RPCErrorPayload:
            self = payload
        case is CancellationError:
            self.init(.cancelled, "cancelled: the request was withdrawn")
        case let failure as OllamaError:
            self.init(ollama: failure)
        case let failure as ComfyUIError:
            self.init(comfy: failure)
        case let failure as SpeechError:
            self.init(speech: failure)
        case let refusal as SpeechUnavailable:
            let kind: RPCErrorKind = switch refusal {
            case .notConfigured: .backendUnavailable
            case .noModel, .unknownModel: .modelNotFound
            }
            self.init(kind, refusal.message)
        case let refusal as SchedulerRefusal:
            let kind: RPCErrorKind = switch refusal.failure {
            case .unknownModel: .modelNotFound
            case .doesNotFit: .doesNotFit
            case .loadFailed: refusal.loadError.map { RPCErrorPayload($0).kind ?? .backendError } ?? .backendError
            }
            self.init(kind, refusal.message)
        case let failure as ModelError:
            let kind: RPCErrorKind = switch failure {
            case .notFound: .modelNotFound
            case .notAnOllamaModel: .invalidParams
            case .stillResident, .answerTooLarge: .backendError
            }
            self.init(kind, failure.message)
        case let failure as JobError:
            let kind: RPCErrorKind = switch failure {
            case .notFound: .jobNotFound
            case .alreadyEnded, .badSubmission: .invalidParams
            case .store: .internal
            }
            self.init(kind, failure.message)
        case let failure as OutputError:
            self.init(.internal, failure.message)
        case let failure as StoreError where failure.mismatch != nil:
            self.init(.collectionMismatch, failure.message)
        case let failure as StoreError:
            self.init(.internal, failure.message)
        case let failure as PipelineStepError:
            self.init(.backendError, failure.message)
        case let failure as CollectionError:
            let kind: RPCErrorKind = switch failure {
            case .notFound: .collectionNotFound
            case .modelNeeded: .invalidParams
            case .badVectors: .backendError
            }
            self.init(kind, failure.message)
        case let untrusted as BackendUntrusted:
            self.init(.backendUnavailable, untrusted.message)
        case let waited as QueueTimeout:
            self.init(.timeout, waited.message)
        case let stopping as ShuttingDown:
            self.init(.shuttingDown, stopping.message)
        default:
            self.init(.internal, "internal error: \(error)")
        }
    }

    private init(speech failure: SpeechError) {
        switch failure.kind {
        case .unreachable, .interrupted:
            self.init(.backendUnavailable, "\(failure.message); start the TTS server or check --tts-url")
        case .timeout:
            self.init(.timeout, "\(failure.message); the text may be too long for one request")
        case .http where failure.status.map { (400..<500).contains($0) } == true:
            self.init(.invalidParams, "the TTS server refused the request: \(failure.message)")
        default:
            self.init(.backendError, "the TTS server failed: \(failure.message)")
        }
    }

    private init(ollama failure: OllamaError) {
        switch failure.kind {
        case .unreachable:
            self.init(.backendUnavailable, "\(failure.message); start Ollama (systemctl start ollama) or check --ollama-url")
        case .interrupted:
            self.init(.backendUnavailable, "\(failure.message); Ollama may have crashed or restarted, check its log and retry")
        case .timeout:
            self.init(.timeout, "\(failure.message); the model may be too slow for this card, or raise --load-timeout")
        case .http where failure.status == 404:
            self.init(.modelNotFound, "Ollama: \(failure.message)")
        case .http where failure.status == 400:
            self.init(.invalidParams, "Ollama refused the request: \(failure.message)")
        case .http where failure.status == 503 || failure.status == 429:
            self.init(.overloaded, "Ollama is busy: \(failure.message); retry shortly")
        case .http, .decoding:
            self.init(.backendError, "Ollama failed: \(failure.message)")
        }
    }

    private init(comfy error: ComfyUIError) {
        switch error.kind {
        case .unreachable, .interrupted:
            self.init(.backendUnavailable, "\(error.message); start ComfyUI or check --comfyui-url")
        case .timeout:
            self.init(.timeout, error.message)
        case .http where error.status == 400:
            self.init(.invalidParams, error.message)
        case .http, .decoding:
            self.init(.backendError, error.message)
        }
    }
}
