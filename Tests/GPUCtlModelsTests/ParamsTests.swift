import GPUCtlModels
import Testing

/// The typed RPC contract: what a client writes is what the daemon reads, and every mistake
/// is one -32602 sentence naming the method and the field.
@Suite struct ParamsTests {
    func refusal<P: RPCParams>(_ type: P.Type, _ method: RPCMethod, _ params: JSONValue) -> String? {
        do {
            _ = try P(method, params: params)
            return nil
        } catch {
            #expect(error.kind == .invalidParams)
            return error.message
        }
    }

    @Test func whatAClientWritesIsReadBackAsItWas() throws {
        var generate = GenerateParams(model: "llama3.1:8b", prompt: "hi")
        generate.system = "be brief"
        generate.options = ["temperature": 0.2, "stop": ["\n"]]
        generate.format = "json"
        generate.images = ["aGk="]
        generate.requestClass = .batch
        generate.stream = false
        #expect(try GenerateParams(.generate, params: generate.json) == generate)

        var chat = ChatParams(model: "m", messages: [ChatMessage(role: "system", content: "s"), ChatMessage(role: "user", content: "u", images: ["eA=="])])
        chat.think = "high"
        chat.tools = [["type": "function"]]
        #expect(try ChatParams(.chat, params: chat.json) == chat)

        var embed = EmbedParams(model: "e", input: ["a", "b"])
        embed.dimensions = 64
        embed.truncate = false
        #expect(try EmbedParams(.embed, params: embed.json) == embed)

        let load = ModelLoadParams(model: "m", keepAlive: .forever, requestClass: .batch)
        #expect(try ModelLoadParams(.modelsLoad, params: load.json) == load)
        let timed = ModelLoadParams(model: "m", keepAlive: .seconds(5400))
        #expect(try ModelLoadParams(.modelsLoad, params: timed.json) == timed)
        #expect(try ModelUnloadParams(.modelsUnload, params: ModelUnloadParams.everything.json) == .everything)
        #expect(try ModelUnloadParams(.modelsUnload, params: ModelUnloadParams(model: "m").json) == ModelUnloadParams(model: "m"))
        #expect(try ModelSwapParams(.modelsSwap, params: ModelSwapParams(model: "m", keep: true).json) == ModelSwapParams(model: "m", keep: true))

        var submit = SubmitParams(.workflow("txt2img", values: ["prompt": "a fox", "steps": 4]))
        submit.timeout = 90
        submit.vram = 6 << 30
        submit.requestClass = .batch
        #expect(try SubmitParams(.comfySubmit, params: submit.json) == submit)
        let graph = SubmitParams(.graph(["1": ["class_type": "SaveImage", "inputs": [:]]]))
        #expect(try SubmitParams(.comfySubmit, params: graph.json) == graph)

        let list = JobsListParams(limit: 5, states: [.queued, .running])
        #expect(try JobsListParams(.jobsList, params: list.json) == list)
        #expect(try JobIDParams(.jobsWait, params: JobIDParams(id: "j").json) == JobIDParams(id: "j"))
        #expect(try EventsSubscribeParams(.eventsSubscribe, params: EventsSubscribeParams(types: ["job"]).json).types == ["job"])
        #expect(try CancelParams(.cancel, params: CancelParams(id: 7).json) == CancelParams(id: 7))
    }

    @Test func unknownFieldsAreRefusedWithTheNearestOne() {
        #expect(refusal(GenerateParams.self, .generate, ["model": "m", "prompt": "p", "sytem": "x"])
            == "invalid params for generate: unknown field 'sytem'; did you mean 'system'?")
        #expect(refusal(ModelLoadParams.self, .modelsLoad, ["model": "m", "keepalive": "1h"])
            == "invalid params for models.load: unknown field 'keepalive'; did you mean 'keep_alive'?")
        #expect(refusal(JobIDParams.self, .jobsGet, ["job": "x"]) == "invalid params for jobs.get: unknown field 'job'")
        #expect(refusal(JobIDParams.self, .jobsGet, ["x", "y"]) == "invalid params for jobs.get: send an object of named params, not array")
    }

    @Test func noParamsTakesNothing() {
        #expect((try? NoParams(.status, params: nil)) != nil)
        #expect((try? NoParams(.status, params: [:])) != nil)
        #expect((try? NoParams(.status, params: [])) != nil)
        #expect(refusal(NoParams.self, .status, ["verbose": true]) == "invalid params for status: it takes no params; send {} or leave params out")
    }

    @Test func eachWrongValueIsNamed() {
        #expect(refusal(GenerateParams.self, .generate, ["model": "m", "prompt": "p", "raw": "yes"])
            == "invalid params for generate: 'raw' must be true or false, not string")
        #expect(refusal(GenerateParams.self, .generate, ["model": "m", "prompt": "p", "format": "yaml"])
            == "invalid params for generate: 'format' must be \"json\" or a JSON schema object, not \"yaml\"")
        #expect(refusal(GenerateParams.self, .generate, ["model": "m", "prompt": "p", "options": ["num_ctx": "big"]])
            == "invalid params for generate: option 'num_ctx' must be a number, not string")
        #expect(refusal(GenerateParams.self, .generate, ["model": "m"])
            == "invalid params for generate: 'prompt' is required (to only load a model, call models.load)")
        #expect(refusal(ChatParams.self, .chat, ["model": "m", "messages": [["role": "robot", "content": "x"]]])
            == "invalid params for chat: messages[0].role is 'robot'; use system, user, assistant or tool")
        #expect(refusal(EmbedParams.self, .embed, ["model": "m", "input": "x", "dimensions": 0])
            == "invalid params for embed: 'dimensions' must be a positive integer, not 0")
        #expect(refusal(ModelLoadParams.self, .modelsLoad, ["model": "m", "keep_alive": "300"])
            == "invalid params for models.load: 'keep_alive' is '300'; write a duration like \"30m\" or \"1h\", or \"-1m\" for forever")
        #expect(refusal(ModelUnloadParams.self, .modelsUnload, ["model": "m", "all": true])
            == "invalid params for models.unload: give either 'model' or \"all\": true")
        #expect(refusal(JobsListParams.self, .jobsList, ["state": "done"])?.hasPrefix("invalid params for jobs.list: 'state' must name job states (queued,") == true)
        #expect(refusal(EventsSubscribeParams.self, .eventsSubscribe, ["types": ["jobs"]])?.contains("not 'jobs'") == true)
        #expect(refusal(CancelParams.self, .cancel, [:]) == "invalid params for cancel: send {\"id\": <the id of the call to stop>}")
    }

    @Test func aSubmissionIsAWorkflowOrAGraphWithSaneLimits() {
        #expect(refusal(SubmitParams.self, .comfySubmit, [:])
            == "invalid params for comfy.submit: 'workflow' (a name from 'gpuctl workflows') or 'graph' (a ComfyUI API-format graph) is required")
        #expect(refusal(SubmitParams.self, .comfySubmit, ["workflow": "w", "graph": [:]])
            == "invalid params for comfy.submit: send either 'workflow' (with 'params') or 'graph', not both")
        #expect(refusal(SubmitParams.self, .comfySubmit, ["graph": [:], "params": [:]])
            == "invalid params for comfy.submit: 'params' goes with 'workflow'; a raw 'graph' has its values in it")
        #expect(refusal(SubmitParams.self, .comfySubmit, ["workflow": "w", "params": "x"])
            == "invalid params for comfy.submit: 'params' must be an object of parameter values, not string")
        // Values that would trap when converted, or be stored and trap again after every restart.
        #expect(refusal(SubmitParams.self, .comfySubmit, ["workflow": "w", "vram": 1e20])
            == "invalid params for comfy.submit: 'vram' must be a number of bytes from 0 to 2^63, or a size like 6GiB")
        #expect(refusal(SubmitParams.self, .comfySubmit, ["workflow": "w", "timeout": 1e300])?.contains("more than 30 days") == true)
        #expect(refusal(SubmitParams.self, .comfySubmit, ["workflow": "w", "timeout": 0])
            == "invalid params for comfy.submit: 'timeout' must be a number of seconds above 0")
        #expect(refusal(SubmitParams.self, .comfySubmit, ["workflow": "w", "vram": "lots"])
            == "invalid params for comfy.submit: 'vram' must be a size like 6GiB, not 'lots'")
        #expect((try? SubmitParams(.comfySubmit, params: ["workflow": "w", "vram": "6GiB"]))?.vram == 6 << 30)
    }

    @Test func everyMethodHasAParamsTypeAndTheyKnowTheirFields() {
        for method in RPCMethod.allCases {
            let type = method.paramsType
            #expect((try? type.init(method: method.rawValue, params: nil)) != nil || !type.fieldNames.isEmpty, "\(method)")
        }
        #expect(RPCMethod.generate.paramsType.fieldNames.contains("class"))
        #expect(RPCMethod.comfySubmit.paramsType.fieldNames.sorted() == ["class", "graph", "params", "timeout", "vram", "workflow"])
        #expect(RPCMethod.status.paramsType.fieldNames.isEmpty)
    }
}
