from isla_nnunet.errors import ISLAError
from isla_nnunet.networks.presets import DEFAULT_FEATURES
from isla_nnunet.nnunet import isla_plans, planning

HELP = ("Fingerprint, plan and preprocess an nnU-Net dataset: ISLAPlans on ISLA's reference grid (default) or "
        "CleriguesPlans (--planner clerigues) at the dataset's own spacing.")
PLANNERS = ("isla", "clerigues")


def _features(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def add_arguments(parser) -> None:
    parser.add_argument("-d", "--dataset", type=int, required=True, help="nnU-Net dataset id")
    parser.add_argument("--planner", choices=PLANNERS, default="isla",
                        help="isla: ISLAPlans, whole reference-grid volumes (default); clerigues: CleriguesPlans, "
                             "24x24x16 patches at the dataset's own spacing (Clèrigues et al. 2019)")
    parser.add_argument("--features", type=_features, default=None,
                        help="isla only: filters per resolution level, comma-separated "
                             f"(default {','.join(map(str, DEFAULT_FEATURES))})")
    parser.add_argument("--gpu-memory-target", type=float, default=None,
                        help="isla only: GPU memory (GB) the batch must fit; below ~20 GB the batch of 8 is reduced "
                             f"(default {isla_plans.DEFAULT_GPU_MEMORY_TARGET_GB:g})")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="isla only: fix the batch (e.g. 2 for CPU training) instead of deriving it from the "
                             "memory target")
    parser.add_argument("-np", "--num-processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("-v", "--verbose", action="store_true")


def run(args) -> int:
    if args.planner == "clerigues":
        from isla_nnunet.nnunet import clerigues_planning  # imports nnU-Net's planner: only when asked for

        isla_only = [n for n in ("features", "gpu_memory_target", "batch_size") if getattr(args, n) is not None]
        if isla_only:
            raise ISLAError(f"--{isla_only[0].replace('_', '-')} applies to ISLA plans only: CleriguesPlans fix "
                            "the patch (24x24x16), the filters (32-256) and the batch (16)")
        plans = clerigues_planning.plan_and_preprocess(args.dataset, args.num_processes, args.verbose)
        print(f"plans written to {plans}")
        return 0
    plans = planning.plan_and_preprocess(args.dataset, args.features or DEFAULT_FEATURES,
                                         args.gpu_memory_target or isla_plans.DEFAULT_GPU_MEMORY_TARGET_GB,
                                         args.num_processes, args.verbose, batch_size=args.batch_size)
    print(f"plans written to {plans}")
    return 0
