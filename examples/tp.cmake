# The tensor-parallel example sq_tp_mlp (examples/tp_mlp.cpp, issue 23); included from the top
# CMakeLists.txt. Only this program links NCCL; the library links nothing new.
#
# NCCL is found (nccl.h and libnccl.so.2 / libnccl.so) under, in this order:
#   -DNCCL_ROOT=<dir>, the environment variable NCCL_ROOT, the nvidia-nccl-cu13 (or -cu12) wheel of
#   python3 (its nvidia/nccl folder), the CUDA toolkit, then the system paths.
# Without NCCL the program is still built, for its --simulate and --host modes (no NCCL needed), and
# its --ranks mode reports "SKIPPED" (exit 77).
option(SQ_BUILD_TP "Build the tensor-parallel example sq_tp_mlp (with NCCL when found)" ON)
if(NOT SQ_BUILD_TP)
  return()
endif()

set(SQ_NCCL_HINTS)
if(NCCL_ROOT)
  list(APPEND SQ_NCCL_HINTS "${NCCL_ROOT}")
endif()
if(DEFINED ENV{NCCL_ROOT})
  list(APPEND SQ_NCCL_HINTS "$ENV{NCCL_ROOT}")
endif()
if(NOT SQ_NCCL_HINTS)
  find_program(SQ_PYTHON3 NAMES python3)
  if(SQ_PYTHON3)
    # The wheel's package is nvidia.nccl (a regular or a namespace package).
    execute_process(
      COMMAND "${SQ_PYTHON3}" -c
              "import os, nvidia.nccl as m; print(os.path.dirname(m.__file__) if getattr(m, '__file__', None) else list(m.__path__)[0])"
      OUTPUT_VARIABLE SQ_NCCL_WHEEL_DIR OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE SQ_NCCL_WHEEL_RC ERROR_QUIET)
    if(SQ_NCCL_WHEEL_RC EQUAL 0 AND IS_DIRECTORY "${SQ_NCCL_WHEEL_DIR}")
      list(APPEND SQ_NCCL_HINTS "${SQ_NCCL_WHEEL_DIR}")
    endif()
  endif()
endif()
list(APPEND SQ_NCCL_HINTS ${CUDAToolkit_LIBRARY_ROOT} ${CUDAToolkit_TARGET_DIR})

find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${SQ_NCCL_HINTS} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${SQ_NCCL_HINTS} ${CUDAToolkit_LIBRARY_DIR}
             PATH_SUFFIXES lib lib64)

add_executable(sq_tp_mlp examples/tp_mlp.cpp)
target_link_libraries(sq_tp_mlp PRIVATE smoothquant CUDA::cudart_static Threads::Threads)
target_compile_options(sq_tp_mlp PRIVATE -Wall -Wextra)
if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
  file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" SQ_NCCL_VERSION_LINES REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
  string(REGEX REPLACE "[^0-9;]" "" SQ_NCCL_VERSION "${SQ_NCCL_VERSION_LINES}")
  string(REPLACE ";" "." SQ_NCCL_VERSION "${SQ_NCCL_VERSION}")
  message(STATUS "sq_tp_mlp: NCCL ${SQ_NCCL_VERSION}: ${NCCL_INCLUDE_DIR}/nccl.h, ${NCCL_LIBRARY}")
  set(SQ_TP_HAVE_NCCL ON)
  target_compile_definitions(sq_tp_mlp PRIVATE SQ_TP_HAVE_NCCL)
  target_include_directories(sq_tp_mlp SYSTEM PRIVATE "${NCCL_INCLUDE_DIR}")
  target_link_libraries(sq_tp_mlp PRIVATE "${NCCL_LIBRARY}")
  get_filename_component(SQ_NCCL_LIBRARY_DIR "${NCCL_LIBRARY}" DIRECTORY)
  set_target_properties(sq_tp_mlp PROPERTIES BUILD_RPATH "${SQ_NCCL_LIBRARY_DIR}")
else()
  set(SQ_TP_HAVE_NCCL OFF)
  message(STATUS "sq_tp_mlp: NCCL not found (set NCCL_ROOT to a folder with include/nccl.h and "
                 "lib/libnccl.so.2, e.g. the nvidia-nccl-cu13 wheel's nvidia/nccl): built for --simulate "
                 "only; --ranks reports SKIPPED")
endif()
