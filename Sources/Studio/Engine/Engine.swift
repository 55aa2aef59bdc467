import Diffusion
import Foundation
import Imaging
import Tensor

/// What the engine needs to know to load a model and save images.
public struct EngineConfiguration: Sendable {
    /// Checkpoint file or diffusers folder.
    public var modelPath: String
    /// `sdxl` (or the architecture a diffusers folder declares) or `tiny` (the test fixtures' architecture).
    public var tinyArchitecture: Bool
    /// The CLIP tokenizer (shared with the UI's token counter).
    public var tokenizer: CLIPTokenizer
    /// Where images are written.
    public var outputDirectory: String
    /// `sumi 0.1.0`: recorded in the image metadata.
    public var generator: String
    /// The hash cache (`$XDG_CACHE_HOME/sumi/hashes.json`), or nil to record no hashes.
    public var hashCachePath: String?
    /// Worker threads (nil: all cores).
    public var threads: Int?
    /// Matrix-product precision (nil: the model's `SDXLPipeline.automaticPrecision`).
    public var precision: Precision?

    /// A configuration.
    public init(modelPath: String, tinyArchitecture: Bool, tokenizer: CLIPTokenizer, outputDirectory: String, generator: String,
                hashCachePath: String?, threads: Int? = nil, precision: Precision? = nil) {
        self.modelPath = modelPath
        self.tinyArchitecture = tinyArchitecture
        self.tokenizer = tokenizer
        self.outputDirectory = outputDirectory
        self.generator = generator
        self.hashCachePath = hashCachePath
        self.threads = threads
        self.precision = precision
    }
}

/// A command for the engine thread.
public enum EngineCommand: Sendable {
    /// Run a request (cancels every earlier one).
    case generate(GenerationSpec)
    /// Stop every request started so far, between steps.
    case cancel
    /// Make the LoRA stack match.
    case syncLoRAs([LoRASlot])
}

/// The engine: one background thread that loads the model once and then runs commands in order, so the UI
/// thread never blocks on the models. Events go into a mailbox the UI drains every loop iteration.
///
/// Cancellation is by run id: `generate` with id N cancels every run below N and `cancel` cancels every run
/// sent so far; a running job checks between sampling steps, so it stops within one UNet call.
/// LoRAs are attached as runtime adapters when the stack supports it (strength changes are then free);
/// otherwise they are merged into the weights before each run, only when something changed.
public final class Engine: @unchecked Sendable {
    let configuration: EngineConfiguration
    private let lock = NSCondition()
    private var commands: [EngineCommand] = []
    private var events: [EngineEvent] = []
    private var stopping = false
    private var cancelUpTo = 0
    private var lastSentRun = 0
    private var thread: Thread?
    private var finishedRunning = false

    /// An engine; nothing happens until `start`.
    public init(configuration: EngineConfiguration) { self.configuration = configuration }

    /// Starts the thread, which loads the model first.
    public func start() {
        let t = Thread { [self] in
            let worker = EngineWorker(configuration: configuration, engine: self)
            worker.run()
            lock.lock()
            finishedRunning = true
            lock.broadcast()
            lock.unlock()
        }
        t.name = "sumi-engine"
        t.stackSize = 16 << 20   // deep module graphs recurse
        thread = t
        t.start()
    }

    /// Queues a command.
    public func send(_ command: EngineCommand) {
        lock.lock()
        switch command {
        case .generate(let spec):
            cancelUpTo = max(cancelUpTo, spec.runID - 1)
            lastSentRun = max(lastSentRun, spec.runID)
        case .cancel:
            cancelUpTo = max(cancelUpTo, lastSentRun)
        case .syncLoRAs:
            break
        }
        commands.append(command)
        lock.signal()
        lock.unlock()
    }

    /// Takes the events posted since the last call.
    public func drainEvents() -> [EngineEvent] {
        lock.lock()
        defer { lock.unlock() }
        let out = events
        events = []
        return out
    }

    /// Asks the thread to stop (cancelling any run) and waits up to `timeout` seconds for it.
    public func shutdown(timeout: Double = 2) {
        lock.lock()
        stopping = true
        cancelUpTo = Int.max
        lock.broadcast()
        let deadline = Date().addingTimeInterval(timeout)
        while thread != nil && !finishedRunning && lock.wait(until: deadline) {}
        lock.unlock()
    }

    // MARK: - Worker side

    func post(_ event: EngineEvent) {
        lock.lock()
        events.append(event)
        lock.unlock()
    }

    /// The next command, or nil when stopping.
    func nextCommand() -> EngineCommand? {
        lock.lock()
        defer { lock.unlock() }
        while commands.isEmpty && !stopping { lock.wait() }
        if stopping { return nil }
        return commands.removeFirst()
    }

    /// Whether run `id` should stop.
    func isCancelled(_ id: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping || id <= cancelUpTo
    }

    var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }
}
