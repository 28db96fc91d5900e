# The small example programs (option SQ_BUILD_DEMO; included from the top CMakeLists.txt):
#   sq_hello        examples/hello.c: one SQ_OP_SMOOTHQUANT_LINEAR on the host reference kernel, then on the GPU
#                   when present (README's complete example program)
#   sq_llama_layer  examples/llama_layer.c: one Llama-style decoder layer's linears in W8A8 through the 0.2
#                   engine ops (RMSNORM_QUANTIZE, SCALED_LINEAR, QUANTIZED_LINEAR, SILU_MUL_QUANTIZE)
# ctest: example_hello and example_llama_layer_host (label host: the host reference kernel, --small),
# example_llama_layer_gpu (label gpu: Llama-3-8B dimensions, every output checked bit for bit against the host
# kernel; exit 77, skipped, without a usable GPU).
add_executable(sq_hello examples/hello.c)
target_link_libraries(sq_hello PRIVATE smoothquant CUDA::cudart_static)
set_target_properties(sq_hello PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)

add_executable(sq_llama_layer examples/llama_layer.c)
target_link_libraries(sq_llama_layer PRIVATE smoothquant CUDA::cudart_static m)
set_target_properties(sq_llama_layer PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)
target_compile_options(sq_llama_layer PRIVATE -Wall -Wextra)

if(SQ_BUILD_TESTS)
  enable_testing()
  add_test(NAME example_hello COMMAND sq_hello)
  add_test(NAME example_llama_layer_host COMMAND sq_llama_layer --host --small)
  set_tests_properties(example_hello example_llama_layer_host PROPERTIES LABELS "host" TIMEOUT 300)
  add_test(NAME example_llama_layer_gpu COMMAND sq_llama_layer --require-gpu --reps 5)
  set_tests_properties(example_llama_layer_gpu PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77 TIMEOUT 600)
endif()
