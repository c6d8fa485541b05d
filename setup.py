"""Builds the compiled core hypergrad._core with the project's CMake (pyproject.toml says how
to install). Only the extension is built here; the package's Python files come from
lib/python/hypergrad."""
import os
import pathlib
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SOURCE = pathlib.Path(__file__).parent.resolve()


class CMakeExtension(Extension):
    def __init__(self):
        super().__init__("hypergrad._core", sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = pathlib.Path(os.environ.get("HYPERGRAD_CMAKE_BUILD_DIR") or
                             pathlib.Path(self.build_temp).resolve() / "cmake")
        if not (build / "CMakeCache.txt").exists():
            configure = ["cmake", "-S", str(SOURCE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"]
            if shutil.which("ccache"):
                configure.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
            subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", str(build), "-j", jobs, "--target", "hypergrad_python"],
                       check=True)
        built = sorted((build / "python" / "hypergrad").glob("_core*.so"))
        if not built:
            raise RuntimeError(f"CMake built no hypergrad/_core*.so under {build}/python")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], target)


setup(ext_modules=[CMakeExtension()], cmdclass={"build_ext": CMakeBuild})
