# Tests of issue 23 (included from tests/CMakeLists.txt):
#   sq_multi_gpu_tests  the plan's device rules on two GPUs (ctest gpu2_devices, labels gpu2); with
#                       fewer than two GPUs it prints why and exits 77 (skipped).
add_executable(sq_multi_gpu_tests test_multi_gpu.cpp)
target_link_libraries(sq_multi_gpu_tests PRIVATE smoothquant Catch2::Catch2 CUDA::cudart_static Threads::Threads)
target_include_directories(sq_multi_gpu_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_options(sq_multi_gpu_tests PRIVATE -ffp-contract=off)
add_test(NAME gpu2_devices COMMAND sq_multi_gpu_tests)
set_tests_properties(gpu2_devices PROPERTIES LABELS "gpu2" SKIP_RETURN_CODE 77 TIMEOUT 1200)
