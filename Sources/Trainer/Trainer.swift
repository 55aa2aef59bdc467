/// Training: data loading, training loops and (later) DMD2 distillation.
public enum Trainer {}
