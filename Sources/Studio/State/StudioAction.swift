import Imaging
import TerminalUI

/// Everything a key can do in the studio (the key table maps keys to these).
public enum StudioAction: String, CaseIterable, Hashable, Sendable {
    // Global.
    case generate, cancel, interrupt, quit, nextPane, previousPane, help
    case tabGenerate, tabGallery, tabTrain
    // LoRA pane.
    case loraUp, loraDown, strengthDown, strengthUp, strengthDownCoarse, strengthUpCoarse
    case toggleLoRA, addLoRA, removeLoRA, moveLoRAUp, moveLoRADown, typeStrength, resetStrength
    // Sampler pane.
    case fieldUp, fieldDown, valueDown, valueUp, valueDownCoarse, valueUpCoarse, typeValue, randomSeed
    // Overlays: help, typed values, the file picker.
    case closeHelp, commitEntry, cancelEntry
}

/// What the engine reports back to the UI.
public enum EngineEvent: Equatable, Sendable {
    /// Loading progress (`reading weights`, `hashing`).
    case modelLoading(String)
    /// The model is ready.
    case modelReady(name: String, sizeMultiple: Int, tiny: Bool)
    /// The model could not be loaded (one line).
    case modelFailed(String)
    /// A LoRA was read and matched.
    case loraReady(id: Int, modules: Int, matchedKeys: Int, unmatchedKeys: Int)
    /// A LoRA could not be used.
    case loraFailed(id: Int, message: String)
    /// A run started an image (prompts being encoded).
    case started(runID: Int, image: Int, imageCount: Int, steps: Int, seed: UInt64)
    /// One sampling step finished; `preview` is the latent preview.
    case step(runID: Int, step: Int, steps: Int, elapsed: Double, preview: RGBImage?)
    /// The engine moved to another phase of the image (`decoding`, `saving`).
    case phase(runID: Int, String)
    /// One image is done and saved.
    case imageDone(runID: Int, image: RGBImage, path: String, seed: UInt64)
    /// The whole request is done.
    case finished(runID: Int, seconds: Double)
    /// The run stopped on request.
    case cancelled(runID: Int)
    /// The run failed (one line).
    case failed(runID: Int, message: String)
}

/// Input to the reducer.
public enum StudioMessage: Equatable {
    /// A key press.
    case key(Key)
    /// Pasted text.
    case paste(String)
    /// A mouse click or wheel step.
    case mouse(MouseEvent)
    /// The terminal has a new size.
    case resize(Size)
    /// Time passes (seconds on a monotonic clock); drives debounces and message expiry.
    case tick(Double)
    /// Something happened in the engine.
    case engine(EngineEvent)
    /// The LoRA file picker, opened by the app over the LoRA folders.
    case pickerOpened(FilePickerState)
    /// The gallery after the app scanned the folder, added an image or loaded a thumbnail.
    case gallery(GalleryState)
    /// The dashboard after the app fed it new metrics or a thumbnail.
    case dashboard(DashboardState)
}

/// What to do generation-wise, as the engine receives it.
public struct GenerationSpec: Equatable, Sendable {
    /// Run id (events carry it back).
    public var runID: Int
    /// Prompt.
    public var prompt: String
    /// Negative prompt.
    public var negative: String
    /// Sampler settings (the seed field is ignored: `seeds` holds one seed per image).
    public var settings: SamplerSettings
    /// Seeds, one per image, made one after the other.
    public var seeds: [UInt64]
    /// The LoRA stack to run with, in order.
    public var loras: [LoRASlot]
}

/// Side effects the reducer asks for; the app performs them.
public enum StudioEffect: Equatable, Sendable {
    /// Start a generation (superseding any running one).
    case generate(GenerationSpec)
    /// Stop the running generation between steps.
    case cancel
    /// Make the engine's LoRA stack match (load new files, drop removed ones, set strengths).
    case syncLoRAs([LoRASlot])
    /// Open the LoRA file picker (the app lists the folders).
    case openLoRAPicker
    /// Scan the output folder for the Gallery tab.
    case scanGallery
    /// Add a just-written image to the gallery.
    case galleryAdd(String)
    /// Persist settings.
    case saveSettings
    /// Exit the studio.
    case quit
}
