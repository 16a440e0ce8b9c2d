/*
 * path_probe.c - the runtime's own path choice for many geometries, for
 * tests/kernels/test_path_mirror.py, which compares it with the Python mirror
 * (pipeline.ops.bconv2d.fast_path, pipeline.ops.thermometer.thermometer_path).
 *
 * The geometries come from the generated path_cases.h (uint8 fields: the predicates read only
 * shapes, so no weights are needed). One record per case:
 *     BNN conv i=<case> path=<bnn_bconv2d_path_name(bnn_bconv2d_select_path(&p))>
 *     BNN thermo i=<case> table=<bnn_thermometer_is_table(&p)>
 *                     path=<bnn_thermometer_path_name(&p)>
 * after "BNN build mve=0|1 v6m=0|1" (the compile-time facts the choice depends on).
 * Built for the host with -DPATH_PROBE_HOST (printf), else as firmware with the platform's
 * record functions (QEMU).
 */
#include "bnn.h"
#include "bnn_internal.h"
#include "path_cases.h"

#ifdef PATH_PROBE_HOST
#include <stdio.h>
#define REC_BEGIN(tag) printf("BNN %s", tag)
#define REC_INT(key, v) printf(" %s=%ld", key, (long)(v))
#define REC_STR(key, v) printf(" %s=%s", key, v)
#define REC_END() printf("\n")
#else
#include "bnn_platform.h"
#define REC_BEGIN(tag) bnn_rec_begin(tag)
#define REC_INT(key, v) bnn_rec_i32(key, (int32_t)(v))
#define REC_STR(key, v) bnn_rec_str(key, v)
#define REC_END() bnn_rec_end()
#endif

int main(void)
{
    static const uint16_t dummy_thresholds[1] = {0}; /* only tested for non-NULL */
    int32_t i;
    REC_BEGIN("build");
#ifdef BNN_HAVE_MVE
    REC_INT("mve", 1);
#else
    REC_INT("mve", 0);
#endif
#if defined(__arm__) && !defined(__thumb2__)
    REC_INT("v6m", 1);
#else
    REC_INT("v6m", 0);
#endif
    REC_END();
    for (i = 0; i < CONV_CASES; i++) {
        const uint8_t *q = conv_cases[i];
        bnn_bconv2d_params p;
        p.in_h = q[0]; p.in_w = q[1]; p.in_c = q[2]; p.out_c = q[3];
        p.kernel_h = q[4]; p.kernel_w = q[5]; p.stride = q[6]; p.padding = q[7];
        p.groups = q[8]; p.out_pack_groups = q[9];
        p.weights = 0; p.threshold = 0; p.flip = 0;
        REC_BEGIN("conv");
        REC_INT("i", i);
        REC_STR("path", bnn_bconv2d_path_name(bnn_bconv2d_select_path(&p)));
        REC_END();
    }
    for (i = 0; i < THERMO_CASES; i++) {
        const uint8_t *q = thermo_cases[i];
        bnn_thermometer_params p;
        p.height = q[0]; p.width = q[1]; p.channels = q[2]; p.planes = q[3];
        p.mode = q[4] ? BNN_THERMO_BASE2 : BNN_THERMO_THRESHOLDS;
        p.thresholds = dummy_thresholds;
        p.out_pack_groups = q[5];
        REC_BEGIN("thermo");
        REC_INT("i", i);
        REC_INT("table", bnn_thermometer_is_table(&p));
        REC_STR("path", bnn_thermometer_path_name(&p));
        REC_END();
    }
    return 0;
}
