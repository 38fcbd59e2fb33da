/*
 * Test plugin with one defect, chosen at build time: meson compiles this
 * file once per defect with -DDEFECT=<name> -DDAM_TEST_NAME="<file stem>".
 * Every struct is padded so an oversized struct_size never makes the host
 * read past the object.
 */
#include "identity_op.h"

enum {
  NONE,
  WRONG_MAJOR,      /* module says ABI 2 through the v1 entry */
  MODULE_TOO_SMALL, /* dam_module.struct_size below ABI 1.0's */
  DESC_TOO_NEW,     /* op descriptor larger than the host knows */
  DESC_TOO_SMALL,   /* op descriptor with only the common header */
  PARAM_TOO_NEW,    /* dam_param_desc larger than the host knows */
  UNKNOWN_KIND,
  NO_NAME,
  BAD_NAME, /* not an identifier */
  NO_INFER,
  NO_FORWARD,
  NEWER_MINOR, /* built against a newer minor SDK than the host's */
  PARAM_OFFSET, /* double param past params_size */
  PARAM_TYPE,   /* unknown param type */
  SAME_MODULE,  /* module named like dup_a's */
  LISTED_TWICE  /* the same op twice in one module */
};

#if !defined(DEFECT) || !defined(DAM_TEST_NAME)
#error "build with -DDEFECT=<defect> -DDAM_TEST_NAME=\"<name>\""
#endif
#define IF(defect, bad, good) (DEFECT == (defect) ? (bad) : (good))

typedef struct {
  double gain;
} malformed_params;

static const struct {
  dam_param_desc p;
  uint64_t added[2];
} param = {{IF(PARAM_TOO_NEW, sizeof(param), sizeof(dam_param_desc)),
            IF(PARAM_TYPE, 7, DAM_PARAM_FLOAT), "gain", "a gain", 1.0, 0.0,
            2.0, 0, 0},
           {0, 0}};

static const struct {
  dam_op_desc d;
  uint64_t added[2];
} op = {{.hdr = {IF(DESC_TOO_NEW, sizeof(op),
                    IF(DESC_TOO_SMALL, sizeof(dam_desc_header),
                       sizeof(dam_op_desc))),
                 IF(UNKNOWN_KIND, 9, DAM_KIND_OP),
                 IF(NO_NAME, NULL,
                    IF(BAD_NAME, "bad name", DAM_TEST_NAME "_op")),
                 "identity", &param.p, 1,
                 IF(PARAM_OFFSET, 4, sizeof(malformed_params))},
         .infer_shape = IF(NO_INFER, NULL, ident_shape),
         .forward = IF(NO_FORWARD, NULL, ident_forward),
         .backward = ident_backward},
        {0, 0}};

static const dam_desc_header *const descs[] = {
    &op.d.hdr, IF(LISTED_TWICE, &op.d.hdr, NULL), NULL};

static const dam_module module = {
    IF(MODULE_TOO_SMALL, 16, sizeof(dam_module)),
    IF(WRONG_MAJOR, 2, DAM_ABI_MAJOR),
    IF(NEWER_MINOR, DAM_ABI_MINOR + 1, DAM_ABI_MINOR),
    0,
    IF(SAME_MODULE, "dup_a", DAM_TEST_NAME),
    "1.0",
    "MIT",
    descs};

DAM_PLUGIN_EXPORT const dam_module *DAM_PLUGIN_ENTRY(const dam_host_api *host,
                                                     uint32_t host_abi_minor);

DAM_PLUGIN_EXPORT const dam_module *DAM_PLUGIN_ENTRY(const dam_host_api *host,
                                                     uint32_t host_abi_minor) {
  (void)host;
  (void)host_abi_minor;
  return &module;
}
