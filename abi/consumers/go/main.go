// Command consumer runs one small SmoothQuant linear layer on the host kernel of the
// INSTALLED libsmoothquant (found with pkg-config) and checks every output bit.
// Inputs are small integers and the scales are exact in binary, so the contract's
// formula is exact in f32 and the expected values are computed exactly here.
//
// Buffers handed to the library live in C memory (C.malloc): sq_run_args holds
// pointers, and cgo forbids passing Go memory that holds Go pointers.
package main

/*
#cgo pkg-config: smoothquant
#include <stdlib.h>
#include <smoothquant/smoothquant.h>

// SQ_API_TABLE_HAS is a macro (offsetof): wrapped for cgo.
static int sq_table_has_v2(const sq_api_table* t) {
  return t->api_version >= 2 && SQ_API_TABLE_HAS(t, quantize_weight_per_channel_asymmetric) &&
         t->weight_sums == &sq_weight_sums;
}
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"unsafe"
)

const (
	rows     = 3  // M
	cols     = 5  // N
	depth    = 24 // K
	actScale = 0.5
)

func actValue(m, k int) int8         { return int8(((m*depth+k)*7)%17 - 8) }
func weightValue(n, k int) int8      { return int8((n*5+k*3)%13 - 6) }
func weightScaleValue(n int) float32 { return 0.25 * float32(n+1) }
func biasValue(n int) float32        { return float32(n) - 1.5 }

// sqError is a failed call: the status and sq_last_error_message() of this thread.
type sqError struct {
	status  C.sq_status
	message string
}

func (e *sqError) Error() string {
	return fmt.Sprintf("%s: %s", C.GoString(C.sq_status_string(e.status)), e.message)
}

// check must be called on the OS thread of the failing call (see main: LockOSThread).
func check(status C.sq_status) error {
	if status == C.SQ_STATUS_SUCCESS {
		return nil
	}
	return &sqError{status: status, message: C.GoString(C.sq_last_error_message())}
}

func linearDesc(k int64) C.sq_plan_desc {
	var d C.sq_plan_desc
	d.struct_size = C.uint32_t(unsafe.Sizeof(d))
	d.op = C.SQ_OP_SMOOTHQUANT_LINEAR
	d.act_dtype = C.SQ_DTYPE_S8
	d.weight_dtype = C.SQ_DTYPE_S8
	d.scale_dtype = C.SQ_DTYPE_F32
	d.out_dtype = C.SQ_DTYPE_F32
	d.n = cols
	d.k = C.int64_t(k)
	d.max_m = rows
	d.act_scale = actScale
	d.host_threads = 1
	return d
}

// cAlloc returns n elements of T in C memory, as a Go slice over it.
func cAlloc[T any](n int) ([]T, unsafe.Pointer) {
	var zero T
	p := C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(zero)))
	if p == nil {
		panic("malloc failed")
	}
	return unsafe.Slice((*T)(p), n), p
}

func run() error {
	header := fmt.Sprintf("%d.%d.%d", C.SQ_VERSION_MAJOR, C.SQ_VERSION_MINOR, C.SQ_VERSION_PATCH)
	if got := C.GoString(C.sq_version_string()); got != header || C.sq_version() != C.SQ_VERSION_NUMBER {
		return fmt.Errorf("library %s, header %s", got, header)
	}

	// Error path: k = 0 is rejected with INVALID_ARGUMENT and a message.
	bad := linearDesc(0)
	var plan C.sq_plan
	err := check(C.sq_plan_select(nil, &bad, C.SQ_PREFERENCE_HOST_REFERENCE, &plan))
	if e, ok := err.(*sqError); !ok || e.status != C.SQ_STATUS_INVALID_ARGUMENT || e.message == "" {
		return fmt.Errorf("k = 0 gave %v, expected SQ_STATUS_INVALID_ARGUMENT with a message", err)
	}

	desc := linearDesc(depth)
	if err := check(C.sq_plan_select(nil, &desc, C.SQ_PREFERENCE_HOST_REFERENCE, &plan)); err != nil {
		return fmt.Errorf("sq_plan_select: %w", err)
	}
	defer C.sq_plan_destroy(plan)

	var info C.sq_plan_info
	info.struct_size = C.uint32_t(unsafe.Sizeof(info))
	if err := check(C.sq_plan_get_info(plan, &info)); err != nil {
		return fmt.Errorf("sq_plan_get_info: %w", err)
	}
	if info.family != C.SQ_KERNEL_FAMILY_HOST {
		return fmt.Errorf("family %d, expected the host family", info.family)
	}

	act, actPtr := cAlloc[int8](rows * depth)
	weight, weightPtr := cAlloc[int8](cols * depth)
	weightScale, weightScalePtr := cAlloc[float32](cols)
	bias, biasPtr := cAlloc[float32](cols)
	scratch, scratchPtr := cAlloc[float32](rows)
	out, outPtr := cAlloc[float32](rows * cols)
	for _, p := range []unsafe.Pointer{actPtr, weightPtr, weightScalePtr, biasPtr, scratchPtr, outPtr} {
		defer C.free(p)
	}
	for m := 0; m < rows; m++ {
		for k := 0; k < depth; k++ {
			act[m*depth+k] = actValue(m, k)
		}
		scratch[m] = float32(math.NaN())
	}
	for n := 0; n < cols; n++ {
		for k := 0; k < depth; k++ {
			weight[n*depth+k] = weightValue(n, k)
		}
		weightScale[n] = weightScaleValue(n)
		bias[n] = biasValue(n)
	}
	for i := range out {
		out[i] = float32(math.NaN()) // poison: unwritten elements fail
	}

	var args C.sq_run_args
	args.struct_size = C.uint32_t(unsafe.Sizeof(args))
	args.m = rows
	args.act = actPtr
	args.weight = weightPtr
	args.weight_scale = weightScalePtr
	args.bias = biasPtr
	args.act_scale_scratch = scratchPtr
	args.out = outPtr
	if err := check(C.sq_plan_run(plan, nil, nil, 0, &args)); err != nil {
		return fmt.Errorf("sq_plan_run: %w", err)
	}

	for m := 0; m < rows; m++ {
		if scratch[m] != actScale {
			return fmt.Errorf("act_scale_scratch[%d] = %v", m, scratch[m])
		}
		for n := 0; n < cols; n++ {
			var acc int64
			for k := 0; k < depth; k++ {
				acc += int64(actValue(m, k)) * int64(weightValue(n, k))
			}
			expected := float64(acc)*actScale*float64(weightScaleValue(n)) + float64(biasValue(n))
			if float64(float32(expected)) != expected || out[m*cols+n] != float32(expected) {
				return fmt.Errorf("out[%d,%d] = %v, expected %v", m, n, out[m*cols+n], expected)
			}
		}
	}

	// A 0.1 caller's run arguments (struct_size of 0.1): accepted, the same bits.
	for i := range out {
		out[i] = float32(math.NaN())
	}
	args.struct_size = C.SQ_RUN_ARGS_SIZE_0_1
	if err := check(C.sq_plan_run(plan, nil, nil, 0, &args)); err != nil {
		return fmt.Errorf("sq_plan_run with a 0.1-size sq_run_args: %w", err)
	}
	for m := 0; m < rows*cols; m++ {
		if math.IsNaN(float64(out[m])) {
			return fmt.Errorf("a 0.1-size run left out[%d] unwritten", m)
		}
	}

	// 0.2: the function table's version 2, and the column sums of a U8 weight.
	if C.sq_table_has_v2(C.sq_get_api()) == 0 {
		return fmt.Errorf("the function table lacks version 2's members")
	}
	wq, wqPtr := cAlloc[uint8](6)
	defer C.free(wqPtr)
	copy(wq, []uint8{0, 255, 7, 128, 1, 2})
	sums, sumsPtr := cAlloc[int32](2)
	defer C.free(sumsPtr)
	var view C.sq_matrix_view
	view.struct_size = C.uint32_t(unsafe.Sizeof(view))
	view.dtype = C.SQ_DTYPE_U8
	view.rows = 2
	view.cols = 3
	view.data = wqPtr
	if err := check(C.sq_weight_sums(&view, (*C.int32_t)(sumsPtr))); err != nil {
		return fmt.Errorf("sq_weight_sums: %w", err)
	}
	if sums[0] != 262 || sums[1] != 131 {
		return fmt.Errorf("sq_weight_sums gave %v", sums)
	}
	fmt.Printf("go consumer: libsmoothquant %s, %dx%d outputs exact on the host kernel\n",
		C.GoString(C.sq_version_string()), rows, cols)
	return nil
}

func main() {
	// sq_last_error_message is thread-local: keep every cgo call on one OS thread.
	runtime.LockOSThread()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "go consumer: FAILED: %v\n", err)
		os.Exit(1)
	}
}
