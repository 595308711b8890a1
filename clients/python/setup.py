"""Generates the ctrlfuse.v1 stubs from the repository's proto/ while the
package builds (pip install ./clients/python): the wheel gets
ctrlfuse/v1/fusion_pb2.py and fusion_pb2_grpc.py, the importable modules the
generated code expects (it imports `ctrlfuse.v1.fusion_pb2`)."""
import pathlib

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "proto"
PROTO = PROTO_ROOT / "ctrlfuse" / "v1" / "fusion.proto"


class BuildWithStubs(build_py):
    def run(self):
        from grpc_tools import protoc  # a build requirement (pyproject.toml)

        if not PROTO.exists():
            raise SystemExit(f"ctrlfuse-client: {PROTO} not found; build from a ctrlfuse-serve checkout")
        out = pathlib.Path(self.build_lib)
        (out / "ctrlfuse" / "v1").mkdir(parents=True, exist_ok=True)
        args = ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"--python_out={out}", f"--grpc_python_out={out}",
                str(PROTO.relative_to(PROTO_ROOT))]
        if protoc.main(args) != 0:
            raise SystemExit("ctrlfuse-client: protoc failed on " + str(PROTO))
        for pkg in ["ctrlfuse", "ctrlfuse/v1"]:
            (out / pkg / "__init__.py").touch()
        super().run()


setup(cmdclass={"build_py": BuildWithStubs}, package_dir={"ctrlfuse": "_generated/ctrlfuse"})
