import ComfyUIClient
import Foundation
import GPUCtlModels
import Testing

/// ComfyUI's WebSocket messages as a real 0.3.64 sends them (comfyui-observed.md), typed.
@Suite(.timeLimit(.minutes(3))) struct ComfyEventTests {
    func event(_ text: String) -> ComfyEvent? { ComfyEvent(text: Array(text.utf8)) }

    @Test func aNormalRunReadsInOrder() {
        let id = "5f0c2d4e-0000-4000-8000-000000000001"
        let frames = [
            #"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":1}}}}"#,
            #"{"type":"execution_start","data":{"prompt_id":"\#(id)","timestamp":1760000000000}}"#,
            #"{"type":"execution_cached","data":{"nodes":[],"prompt_id":"\#(id)","timestamp":1760000000001}}"#,
            #"{"type":"progress_state","data":{"prompt_id":"\#(id)","nodes":{"1":{"value":0.0,"max":1.0,"state":"running","node_id":"1","prompt_id":"\#(id)","display_node_id":"1","parent_node_id":null,"real_node_id":"1"}}}}"#,
            #"{"type":"executing","data":{"node":"1","display_node":"1","prompt_id":"\#(id)"}}"#,
            #"{"type":"executed","data":{"node":"2","display_node":"2","output":{"images":[{"filename":"probe_00001_.png","subfolder":"","type":"output"}]},"prompt_id":"\#(id)"}}"#,
            #"{"type":"execution_success","data":{"prompt_id":"\#(id)","timestamp":1760000000002}}"#,
            #"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":0}}}}"#,
            #"{"type":"executing","data":{"node":null,"prompt_id":"\#(id)"}}"#,
        ]
        let events = frames.compactMap(event)
        #expect(events.count == frames.count)
        #expect(events[0] == .status(queueRemaining: 1, sid: nil))
        #expect(events[1] == .executionStart(promptID: id))
        #expect(events[2] == .executionCached(promptID: id, nodes: []))
        #expect(events[3] == .progressState(promptID: id, nodes: ["1": .init(value: 0, max: 1, state: "running")]))
        #expect(events[4] == .executing(promptID: id, node: "1"))
        #expect(events[5] == .executed(promptID: id, node: "2", output: ["images": [["filename": "probe_00001_.png", "subfolder": "", "type": "output"]]]))
        #expect(events[6] == .executionSuccess(promptID: id))
        #expect(events[8] == .executing(promptID: id, node: nil))
        #expect(events.allSatisfy { $0.promptID == id || $0.promptID == nil })
    }

    @Test func errorsInterruptsAndFirstStatus() {
        #expect(event(#"{"type":"status","data":{"status":{"exec_info":{"queue_remaining":0}},"sid":"gpuctld-1"}}"#)
            == .status(queueRemaining: 0, sid: "gpuctld-1"))
        let failure = event(#"{"type":"execution_error","data":{"prompt_id":"p","node_id":"2","node_type":"ImageToMask","executed":["1"],"exception_message":"index 3 is out of bounds for dimension 3 with size 3\n","exception_type":"IndexError","traceback":["..."],"current_inputs":{},"current_outputs":[],"timestamp":1}}"#)
        guard case .executionError(let error)? = failure else { Issue.record("not an execution_error"); return }
        #expect(error.message == "node 2 (ImageToMask) failed: IndexError: index 3 is out of bounds for dimension 3 with size 3")
        #expect(event(#"{"type":"execution_interrupted","data":{"prompt_id":"p","node_id":"3","node_type":"ImageUpscaleWithModel","executed":["1"],"timestamp":1}}"#)
            == .executionInterrupted(promptID: "p", node: "3", nodeType: "ImageUpscaleWithModel"))
        #expect(event(#"{"type":"progress","data":{"value":3,"max":18,"prompt_id":"p","node":"3"}}"#)
            == .progress(promptID: "p", node: "3", value: 3, max: 18))
        // A reconnect mid-run says which node runs, without a prompt id.
        #expect(event(#"{"type":"executing","data":{"node":"3"}}"#) == .executing(promptID: nil, node: "3"))
        #expect(event(#"{"type":"crystools.monitor","data":{"cpu":3}}"#) == .other(type: "crystools.monitor", data: ["cpu": 3]))
        #expect(event("not json") == nil)
        #expect(event(#"{"data":{}}"#) == nil)
    }

    @Test func binaryFramesAreRecognised() {
        func word(_ value: Int) -> [UInt8] { [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
        #expect(ComfyEvent(binary: word(1) + word(1) + [0xFF, 0xD8, 0xFF]) == .preview(format: "image/jpeg", promptID: nil, node: nil, bytes: 3))
        let metadata = Array(#"{"node_id":"3","prompt_id":"p","image_type":"image/png"}"#.utf8)
        #expect(ComfyEvent(binary: word(4) + word(metadata.count) + metadata + [1, 2])
            == .preview(format: "image/png", promptID: "p", node: "3", bytes: 2))
        let node = Array("5".utf8)
        #expect(ComfyEvent(binary: word(3) + word(node.count) + node + Array("width: 1024, height: 1024".utf8))
            == .text(node: "5", text: "width: 1024, height: 1024"))
        #expect(ComfyEvent(binary: word(2) + [0]) == nil)
        #expect(ComfyEvent(binary: [0, 0]) == nil)
        #expect(ComfyEvent(binary: word(3) + word(99) + node) == nil)
    }
}

/// ComfyUI's 400 for a refused graph, as one sentence (bodies as a real 0.3.64 sends them).
@Suite(.timeLimit(.minutes(3))) struct ComfyValidationTests {
    @Test func nodeErrorsNameNodeClassAndInput() {
        let body = #"{"error":{"type":"prompt_outputs_failed_validation","message":"Prompt outputs failed validation","details":"","extra_info":{}},"node_errors":{"2":{"errors":[{"type":"required_input_missing","message":"Required input is missing","details":"images","extra_info":{"input_name":"images"}}],"dependent_outputs":["2"],"class_type":"SaveImage"},"1":{"errors":[{"type":"value_smaller_than_min","message":"Value 0 smaller than min of 1","details":"width","extra_info":{"input_name":"width"}}],"dependent_outputs":["2"],"class_type":"EmptyImage"}}}"#
        #expect(ComfyValidation.describe(body) == "ComfyUI refused the workflow (Prompt outputs failed validation): node 1 (EmptyImage) input 'width': Value 0 smaller than min of 1; node 2 (SaveImage) input 'images': Required input is missing")
        let invalid = #"{"error":{"type":"invalid_prompt","message":"Cannot execute because node Nope does not exist.","details":"Node ID '#1'","extra_info":{}},"node_errors":{}}"#
        #expect(ComfyValidation.describe(invalid) == "ComfyUI refused the workflow (Cannot execute because node Nope does not exist.): Node ID '#1'")
        #expect(ComfyValidation.describe("500 Internal Server Error") == nil)
    }
}
