"""The sections of a config: one typed dataclass each, with its ranges and choices.

``Config`` = ``data``, ``model``, ``loss``, ``train``, ``test``. Each section lists the
ranges (``_ranges``: field -> (low, high)) and the choices (``_choices``: field -> allowed
strings) that :mod:`semapose.config.checks` enforces; reading, overriding and writing
configs is :mod:`semapose.config.loading`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DataConfig:
    """Where the data is and how clips are cut from it."""

    #: posetrack17 | posetrack18 | posetrack21 | coco | synthetic (= posetrack18 layout)
    dataset: str = "synthetic"
    #: folder that image paths in the annotations are relative to
    root: str = ""
    #: annotation file or folder of per-sequence files, for training / validation
    train_annotations: str = ""
    val_annotations: str = ""
    #: person boxes for validation (mmpose or PoseWarper layout); empty = ground-truth boxes
    val_boxes: str = ""
    box_score_threshold: float = 0.2
    #: network input (height, width) and heatmap stride
    image_size: tuple[int, int] = (256, 192)
    heatmap_stride: int = 4
    sigma: float = 2.0
    #: supporting-frame offsets relative to the key frame (the key frame is implied)
    offsets: list[int] = field(default_factory=lambda: [-2, -1, 1, 2])
    #: if > 0, training draws each supporting offset's magnitude in [1, max_offset]
    #: per sample (keeping its sign and order); 0 = always the fixed offsets
    random_offset_max: int = 0
    bbox_enlarge: float = 1.25
    flip_prob: float = 0.5
    rotation: float = 45.0
    rotation_prob: float = 0.6
    scale: float = 0.35
    half_body_prob: float = 0.3
    #: use only labeled key frames for training (PoseTrack practice)
    labeled_only: bool = True
    num_workers: int = 2

    _ranges = {
        "box_score_threshold": (0.0, 1.0),
        "heatmap_stride": (1, 64),
        "sigma": (0.1, 50.0),
        "random_offset_max": (0, 100),
        "bbox_enlarge": (1.0, 4.0),
        "flip_prob": (0.0, 1.0),
        "rotation": (0.0, 180.0),
        "rotation_prob": (0.0, 1.0),
        "scale": (0.0, 0.95),
        "half_body_prob": (0.0, 1.0),
        "num_workers": (0, 256),
    }
    _choices = {"dataset": ("posetrack17", "posetrack18", "posetrack21", "coco", "synthetic")}


#: Backbone names ``model.backbone`` accepts (the rows of ``models/backbones/spec.py``).
BACKBONE_NAMES: tuple[str, ...] = (
    "tiny",
    "hrnet_w32",
    "hrnet_w48",
    "vit_s",
    "vit_b",
    "vit_l",
    "vit_h",
    "blazepose",
)


@dataclass
class ModelConfig:
    """Backbone + temporal module + head. See docs/paper_notes.md for the paper preset."""

    #: tiny | hrnet_w32 | hrnet_w48 | vit_s | vit_b | vit_l | vit_h | blazepose
    backbone: str = "tiny"
    #: checkpoint to initialise the backbone (and single-frame head) from; empty = random
    backbone_weights: str = ""
    freeze_backbone: bool = False
    #: none (single-frame) | mlsme_smml (ours) | temporal_difference | heatmap_warping
    temporal: str = "mlsme_smml"
    num_joints: int = 17
    #: width, depth and heads of the temporal module
    dim: int = 64
    patch_depth: int = 2
    frame_depth: int = 1
    decoder_depth: int = 1
    heads: int = 4
    mlp_ratio: float = 4.0
    drop_path: float = 0.1
    #: patch cube: spatial size (feature-map pixels) and temporal length (frames)
    cube_size: int = 2
    cube_frames: int = 1
    #: masking (training only)
    patch_masking: bool = True
    frame_masking: bool = True
    patch_mask_ratio: float = 0.5
    frame_mask_ratio: float = 0.4
    mask_key_frame: bool = False
    #: smml (ours) | concat (ablation)
    fusion: str = "smml"
    smml_rounds: int = 1
    #: MLSME encoder levels: both (ours) | patch (patch-level only) | frame (frame-level only)
    mlsme_levels: str = "both"
    #: add the temporal output to the key frame's backbone features (gated residual), so
    #: the backbone's pretrained single-frame head keeps working; false = head sees only it
    key_skip: bool = True
    #: initial value of the per-channel gate on that residual (ours and both baselines);
    #: the residual itself starts at exactly 0 (zero-initialised last layer)
    skip_gate_init: float = 1.0
    #: training: the key-frame heatmap loss reads a separate unmasked MLSME pass (clean)
    #: or the masked pass that also feeds the reconstruction decoders (masked)
    main_pass: str = "clean"
    #: ours: channels of a full-resolution decoder where SMML's output re-enters the key
    #: frame's features (3x3 conv on [key features; unpatchified SMML output]); 0 = the
    #: unpatchified output is the residual itself
    pixel_decoder: int = 0
    #: ours: channels of the scorer of the pixel-wise fusion over the clip's frames
    #: (models/temporal/frame_fusion.py: the supporting frames' features, weighted per
    #: pixel, enter the key frame's through a zero-initialised mix); 0 = off
    frame_fusion: int = 0
    #: dilations of the deformable sampling in the heatmap_warping baseline
    warp_dilations: list[int] = field(default_factory=lambda: [1, 3, 6])
    #: channels of the deconvolution head
    head_channels: int = 64

    _ranges = {
        "num_joints": (1, 1000),
        "dim": (4, 8192),
        "patch_depth": (0, 64),
        "frame_depth": (0, 64),
        "decoder_depth": (0, 64),
        "heads": (1, 128),
        "mlp_ratio": (0.25, 16.0),
        "drop_path": (0.0, 0.9),
        "cube_size": (1, 64),
        "cube_frames": (1, 64),
        "patch_mask_ratio": (0.0, 0.95),
        "frame_mask_ratio": (0.0, 0.95),
        "smml_rounds": (1, 16),
        "skip_gate_init": (0.0, 10.0),
        "head_channels": (1, 4096),
        "pixel_decoder": (0, 4096),
        "frame_fusion": (0, 4096),
    }
    _choices = {
        "backbone": BACKBONE_NAMES,
        "temporal": ("none", "mlsme_smml", "temporal_difference", "heatmap_warping"),
        "fusion": ("smml", "concat"),
        "mlsme_levels": ("both", "patch", "frame"),
        "main_pass": ("clean", "masked"),
    }


@dataclass
class LossConfig:
    """Weights of the named loss terms (the paper's objective lives in semapose.losses)."""

    heatmap: float = 1.0
    context: float = 1e-3
    pose: float = 1.0
    #: epochs over which the masking ratios ramp linearly from 0 to their value (0 = none)
    mask_warmup_epochs: float = 0.0

    _ranges = {
        "heatmap": (0.0, 1e6),
        "context": (0.0, 1e6),
        "pose": (0.0, 1e6),
        "mask_warmup_epochs": (0.0, 1e4),
    }


@dataclass
class TrainConfig:
    """Optimiser, schedule, precision, checkpoints."""

    output_dir: str = "runs/default"
    device: str = "auto"
    seed: int = 0
    epochs: int = 20
    #: stop after this many optimiser steps in total (0 = run all epochs)
    max_steps: int = 0
    batch_size: int = 32
    lr: float = 1e-4
    backbone_lr: float = 1e-5
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    #: multistep | cosine
    schedule: str = "multistep"
    milestones: list[int] = field(default_factory=lambda: [12, 18])
    gamma: float = 0.1
    warmup_steps: int = 0
    grad_clip: float = 1.0
    amp: bool = True
    checkpoint_every: int = 500
    val_every_epochs: int = 1
    log_every: int = 10
    tensorboard: bool = False
    #: limit training samples per epoch (0 = all) for quick runs
    samples_per_epoch: int = 0
    #: autocast dtype when amp is on (GPU only): bfloat16 | float16 (float16 adds a GradScaler)
    amp_dtype: str = "bfloat16"
    #: rolling step/epoch checkpoints kept on disk (best and last are always kept)
    keep_checkpoints: int = 2
    #: convert BatchNorm to SyncBatchNorm under multi-GPU DDP (not available on CPU)
    sync_bn: bool = False
    #: DDP find_unused_parameters (needed when masking or freezing leaves parameters unused)
    find_unused_parameters: bool = True
    #: limit validation samples (0 = all) for quick runs
    val_max_samples: int = 0
    #: cosine schedule floor as a fraction of the base lr
    min_lr_factor: float = 0.0
    #: write curves.png (loss terms, lr, validation) beside the checkpoints at each epoch
    plot: bool = True
    #: CPU threads for the training process (0 = PyTorch's default, one per core); 1 is
    #: often fastest on a busy machine (OpenMP threads spin while waiting for a core)
    cpu_threads: int = 0
    #: stop (checkpoint + validate) after this many minutes of training (0 = no limit);
    #: the schedule still assumes the full run, so this is a safety net, not a recipe
    max_minutes: float = 0.0
    #: data.dataset=synthetic with a data.root that holds no data: generate it first with
    #: these settings (train and val splits, fixed seed; see docs/training.md)
    synth_train_videos: int = 24
    synth_val_videos: int = 6
    synth_frames: int = 24
    #: frame size (width, height) and people per video (min, max)
    synth_size: tuple[int, int] = (256, 192)
    synth_people: tuple[int, int] = (1, 3)
    #: degradations (synth --degrade syntax; "all", "none", "TYPE[:SEV],...") and their rate
    synth_degrade: str = "all"
    synth_rate: float = 0.35
    synth_seed: int = 0

    _ranges = {
        "keep_checkpoints": (1, 10**6),
        "val_max_samples": (0, 10**9),
        "min_lr_factor": (0.0, 1.0),
        "max_minutes": (0.0, 1e7),
        "cpu_threads": (0, 4096),
        "synth_train_videos": (1, 99999),
        "synth_val_videos": (1, 99999),
        "synth_frames": (1, 9999),
        "synth_rate": (0.0, 1.0),
        "synth_seed": (0, 2**63 - 1),
        "epochs": (1, 100000),
        "max_steps": (0, 10**9),
        "batch_size": (1, 100000),
        "lr": (0.0, 10.0),
        "backbone_lr": (0.0, 10.0),
        "weight_decay": (0.0, 10.0),
        "gamma": (0.0, 1.0),
        "warmup_steps": (0, 10**9),
        "grad_clip": (0.0, 1e6),
        "checkpoint_every": (0, 10**9),
        "val_every_epochs": (0, 100000),
        "log_every": (1, 10**9),
        "samples_per_epoch": (0, 10**9),
    }
    _choices = {
        "optimizer": ("adamw", "adam", "sgd"),
        "schedule": ("multistep", "cosine"),
        "amp_dtype": ("bfloat16", "float16"),
    }


@dataclass
class TestConfig:
    """Inference-time options."""

    flip_test: bool = True
    #: sub-pixel refinement of the heatmap argmax: dark | quarter | none
    refine: str = "dark"
    batch_size: int = 64

    _ranges = {"batch_size": (1, 100000)}
    _choices = {"refine": ("dark", "quarter", "none")}


@dataclass
class Config:
    """The whole configuration of a run."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    test: TestConfig = field(default_factory=TestConfig)
    #: where the config came from (a file path, ``<defaults>``), named in every error about
    #: it, including the model checks at build time; not a key of the file
    source: str = field(default="<config>", compare=False, repr=False, metadata={"key": False})

    @property
    def num_frames(self) -> int:
        return 1 + len(self.data.offsets)


__all__ = [
    "BACKBONE_NAMES",
    "Config",
    "DataConfig",
    "ModelConfig",
    "LossConfig",
    "TrainConfig",
    "TestConfig",
]
