from isla_nnunet.nnunet import environment as nnunet_env

HELP = "Print the export lines that let nnU-Net's commands find the ISLA trainers: eval \"$(isla env)\"."


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    print("\n".join(nnunet_env.export_lines()))
    return 0
