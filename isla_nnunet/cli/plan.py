from isla_nnunet import planning
from isla_nnunet.networks.presets import DEFAULT_FEATURES

HELP = "Fingerprint, plan (ISLAPlans, 3d_fullres) and preprocess an nnU-Net dataset on ISLA's reference grid."


def _features(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def add_arguments(parser) -> None:
    parser.add_argument("-d", "--dataset", type=int, required=True, help="nnU-Net dataset id")
    parser.add_argument("--features", type=_features, default=DEFAULT_FEATURES,
                        help="filters per resolution level, comma-separated "
                             f"(default {','.join(map(str, DEFAULT_FEATURES))})")
    parser.add_argument("--gpu-memory-target", type=float, default=planning.DEFAULT_GPU_MEMORY_TARGET_GB,
                        help="GPU memory (GB) the batch must fit; below ~20 GB the batch of 8 is reduced")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="fix the batch (e.g. 2 for CPU training) instead of deriving it from the memory target")
    parser.add_argument("-np", "--num-processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("-v", "--verbose", action="store_true")


def run(args) -> int:
    plans = planning.plan_and_preprocess(args.dataset, args.features, args.gpu_memory_target, args.num_processes,
                                         args.verbose, batch_size=args.batch_size)
    print(f"plans written to {plans}")
    return 0
