# Tests of issue 23 (included from tests/CMakeLists.txt):
#   sq_multi_gpu_tests  the plan's device rules on two GPUs (ctest gpu2_devices, labels gpu2); with
#                       fewer than two GPUs it prints why and exits 77 (skipped).
#   sq_tp_mlp           (examples/tp.cmake) the tensor-parallel MLP: bit-identical to one GPU.
#     tp_host           R = 1..4 simulated on the host reference kernels (label host; no GPU)
#     tp_gpu_simulate   R = 2, 4, 8 simulated on one GPU, Llama-3-8B shapes (label gpu)
#     tp_gpu_r1         NCCL, one rank (label gpu)
#     tp_gpu_r2         NCCL, two ranks on two GPUs (label gpu2)
#   Each skips (exit 77, reason printed) without the GPUs it needs, without NCCL (the --ranks ones),
#   or with a library that does not provide the 0.2 ops yet.
add_executable(sq_multi_gpu_tests test_multi_gpu.cpp)
target_link_libraries(sq_multi_gpu_tests PRIVATE smoothquant Catch2::Catch2 CUDA::cudart_static Threads::Threads)
target_include_directories(sq_multi_gpu_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_options(sq_multi_gpu_tests PRIVATE -ffp-contract=off)
add_test(NAME gpu2_devices COMMAND sq_multi_gpu_tests)
set_tests_properties(gpu2_devices PROPERTIES LABELS "gpu2" SKIP_RETURN_CODE 77 TIMEOUT 1200)

if(TARGET sq_tp_mlp)
  add_test(NAME tp_host COMMAND sq_tp_mlp --host --simulate 1,2,3,4)
  set_tests_properties(tp_host PROPERTIES LABELS "host" SKIP_RETURN_CODE 77 TIMEOUT 600)
  add_test(NAME tp_gpu_simulate COMMAND sq_tp_mlp --simulate 2,4,8 --no-time)
  add_test(NAME tp_gpu_r1 COMMAND sq_tp_mlp --ranks 1 --reps 5 --warmup 1)
  add_test(NAME tp_gpu_r2 COMMAND sq_tp_mlp --ranks 2 --reps 5 --warmup 1)
  set_tests_properties(tp_gpu_simulate tp_gpu_r1 PROPERTIES LABELS "gpu")
  set_tests_properties(tp_gpu_r2 PROPERTIES LABELS "gpu2")
  set_tests_properties(tp_gpu_simulate tp_gpu_r1 tp_gpu_r2 PROPERTIES
                       SKIP_RETURN_CODE 77 TIMEOUT 900 ENVIRONMENT "NCCL_NVLS_ENABLE=0")
endif()
