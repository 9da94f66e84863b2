import Foundation
import GPUCtlCore
import GPUCtlModels
import Testing

/// Pipeline definitions are checked whole before anything runs: every reference resolves, the
/// steps form a DAG, types agree; each problem names the step and the reference.
@Suite struct PipelineParserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let workflows: WorkflowCatalog = {
        let directory = root.appendingPathComponent("Workflows").path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return WorkflowCatalog.load(fileNames: names) { FileManager.default.contents(atPath: "\(directory)/\($0)") }
    }()

    func problems(_ json: String) -> [String] {
        do {
            _ = try PipelineParser.parse(name: "p", data: Data(json.utf8), workflows: Self.workflows.templates)
            return []
        } catch {
            return error.problems
        }
    }

    /// A two-step pipeline whose second step is `step` (the first, `plan`, writes JSON).
    func with(_ step: String, inputs: String = #"{"topic": {"type": "string"}}"#) -> String {
        """
        {"inputs": \(inputs), "steps": [
          {"id": "plan", "kind": "generate", "model": "llama", "prompt": "about {{input.topic}}",
           "format": {"type": "object", "properties": {"title": {"type": "string"}, "shots": {"type": "array", "items": {"type": "object", "properties": {"text": {"type": "string"}}}}}}},
          \(step)
        ]}
        """
    }

    @Test func theShippedPipelinesAreValidAndOrdered() throws {
        let directory = Self.root.appendingPathComponent("Workflows/pipelines").path
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        let catalog = PipelineCatalog.load(fileNames: names, workflows: Self.workflows) { FileManager.default.contents(atPath: "\(directory)/\($0)") }
        #expect(catalog.broken.isEmpty, "\(catalog.broken)")
        #expect(Set(catalog.definitions.keys) == ["illustrated-scene", "narrated-clip", "storyboard"])
        let clip = try #require(catalog.definitions["narrated-clip"])
        #expect(clip.order == ["script", "narration", "video", "music"] && clip.step("narration")?.kind == .speak)
        #expect(clip.step("narration")?.dependencies == ["script"] && clip.step("music")?.dependencies == ["script"])
        let storyboard = try #require(catalog.definitions["storyboard"])
        #expect(storyboard.order == ["plan", "caption", "frame"])
        #expect(storyboard.step("frame")?.dependencies == ["plan"] && storyboard.step("frame")?.forEach != nil)
        #expect(storyboard.inputs["shots"]?.type == .integer && storyboard.inputs["story"]?.required == true)
        let scene = try #require(catalog.definitions["illustrated-scene"])
        #expect(scene.step("illustration")?.optional == true && scene.step("scene")?.retries == 1)
    }

    @Test func unknownStepsInputsAndFieldsAreNamedWithTheNearest() {
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{steps.plna.text}}"}"#))
            == ["step 'b': {{steps.plna.text}} names no step 'plna' (did you mean 'plan'?)"])
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{input.topc}}"}"#))
            == ["step 'b': {{input.topc}} names no input 'topc' (did you mean 'topic'?)"])
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{steps.plan.json.titel}}"}"#))
            == ["step 'b': {{steps.plan.json.titel}}: the format has no field 'titel' (did you mean 'title'?)"])
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "promt": "hi"}"#))
            == ["step 'b': a generate step has no field 'promt' (did you mean 'prompt'?)", "step 'b': a generate step needs 'prompt'"])
        #expect(problems(with(#"{"id": "b", "kind": "sing", "text": "hi"}"#))
            == ["step 'b': 'kind' must be one of generate, chat, embed, comfy, speak"])
        #expect(problems(with(#"{"id": "b", "kind": "speak", "text": "hi"}"#))
            == ["step 'b': a speak step has no field 'text'", "step 'b': a speak step needs 'input'"])
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{steps.b.text}}"}"#))
            == ["step 'b': {{steps.b.text}} refers to the step itself"])
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{step.plan.text}}"}"#))
            == ["step 'b': prompt: '{{step.plan.text}}' is not a reference; write {{input.NAME}}, {{steps.ID.FIELD}}, {{item}} or {{index}}"])
    }

    @Test func aCycleIsRefusedWithItsPath() {
        let json = """
            {"steps": [
              {"id": "a", "kind": "generate", "model": "x", "prompt": "{{steps.c.text}}"},
              {"id": "b", "kind": "generate", "model": "x", "prompt": "{{steps.a.text}}"},
              {"id": "c", "kind": "generate", "model": "x", "prompt": "{{steps.b.text}}"},
              {"id": "d", "kind": "generate", "model": "x", "prompt": "free"}
            ]}
            """
        #expect(problems(json) == ["steps a → c → b → a wait for each other: a pipeline's steps must not form a cycle"])
    }

    @Test func typesMustAgreeWhereTheyMeet() {
        // for_each over something that is not a list.
        #expect(problems(with(#"{"id": "b", "kind": "generate", "for_each": "{{steps.plan.json.title}}", "model": "x", "prompt": "{{item}}"}"#))
            == ["step 'b': for_each {{steps.plan.json.title}} is a string, not an array"])
        #expect(problems(with(#"{"id": "b", "kind": "generate", "for_each": "{{input.topic}}", "model": "x", "prompt": "hi"}"#))
            == ["step 'b': for_each {{input.topic}} is a string, not an array"])
        // A list written into text.
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "shots: {{steps.plan.json.shots}}"}"#))
            == ["step 'b': prompt: {{steps.plan.json.shots}} is an array and cannot be written into text; make it the whole value"])
        // JSON from a step that was not asked for any.
        #expect(problems("""
            {"steps": [{"id": "a", "kind": "generate", "model": "x", "prompt": "hi"},
                       {"id": "b", "kind": "generate", "model": "x", "prompt": "{{steps.a.json.x}}"}]}
            """) == ["step 'b': {{steps.a.json.x}}: step 'a' has no output 'json' (its reply is text: give it a 'format' to ask for JSON); it has text"])
        // A string input where the workflow wants an integer, an unknown parameter, a missing one.
        #expect(problems(with(#"{"id": "b", "kind": "comfy", "workflow": "txt2img", "params": {"prompt": "x", "seed": "{{input.topic}}", "sead": 1}}"#))
            == ["step 'b': workflow 'txt2img' has no parameter 'sead' (did you mean 'seed'?)",
                "step 'b': params.seed is a string but workflow 'txt2img' wants an integer"])
        #expect(problems(with(#"{"id": "b", "kind": "comfy", "workflow": "txt2img", "params": {"steps": 5}}"#))
            == ["step 'b': workflow 'txt2img' needs parameter 'prompt' (What to draw.)"])
        #expect(problems(with(#"{"id": "b", "kind": "comfy", "workflow": "txt2im", "params": {}}"#))
            == ["step 'b': no workflow 'txt2im' in Workflows/ (did you mean 'txt2img'?)"])
        #expect(problems(with(#"{"id": "b", "kind": "comfy", "workflow": "txt2img", "params": {"prompt": "x", "steps": "many"}}"#))
            == ["step 'b': params.steps must be an integer, not 'many'"])
        // {{item}} outside a fan-out; a path into a fan-out's list.
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{item}}"}"#))
            == ["step 'b': {{item}} is only known inside a step with for_each"])
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{item.text}} {{index}}", "for_each": "{{steps.plan.json.shots}}"}"#)).isEmpty)
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{item.txt}}", "for_each": "{{steps.plan.json.shots}}"}"#))
            == ["step 'b': {{item.txt}}: the format has no field 'txt' (did you mean 'text'?)"])
        // An input whose default is not its type.
        #expect(problems(with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "hi"}"#, inputs: #"{"topic": {"type": "string"}, "n": {"type": "integer", "default": "six"}}"#))
            == ["input 'n' is an integer but its default is a string"])
    }

    @Test func aBrokenFileIsReportedAndSkippedBesideGoodOnes() {
        let files = ["good.json": with(#"{"id": "b", "kind": "generate", "model": "x", "prompt": "{{steps.plan.text}}"}"#),
                     "bad.json": "{not json", "notes.txt": "ignored"]
        let catalog = PipelineCatalog.load(fileNames: Array(files.keys), workflows: Self.workflows) { files[$0].map { Data($0.utf8) } }
        #expect(Array(catalog.definitions.keys) == ["good"])
        #expect(catalog.broken.map(\.description) == ["pipeline 'bad' (bad.json): the file is not a JSON object"])
    }
}
