/* A DA sample on the device: sort by transform, two stages, restore. */
#include "da_apply.h"
#include "error.h"
#include "gather.h"
#include "nn.h"

#include <stdlib.h>
#include <string.h>

/* order[0..n) = 0..n-1 stably sorted by key[order[j]] (counting sort over
 * k keys). */
static void sort_by_key(const uint32_t *key, uint32_t n, uint32_t k,
                        uint32_t *count, uint32_t *order) {
  memset(count, 0, (k + 1) * sizeof *count);
  for (uint32_t i = 0; i < n; i++)
    count[key[i] + 1]++;
  for (uint32_t t = 0; t < k; t++)
    count[t + 1] += count[t];
  for (uint32_t i = 0; i < n; i++)
    order[count[key[i]]++] = i;
}

/* One stage: the images of x (whose slot j holds image img[j]) through
 * transform key[img[j]], with the stage's magnitudes (in image order)
 * and seeds. */
static dam_tensor *stage(dam_exec *ex, dam_augment *const *augs, uint32_t k,
                         const uint32_t *key, const uint32_t *img,
                         dam_tensor *x, dam_tensor *mag_img,
                         const uint32_t *seed_img, float fill,
                         uint32_t *scratch) {
  uint32_t n = x->shape.dim[0], n_groups = 0;
  dam_augment_group *groups = malloc(k * sizeof *groups);
  if (!groups)
    return dam_fail(DAM_ENOMEM, "out of memory"), NULL;
  for (uint32_t j = 0; j < n; j++) {
    const dam_augment *a = augs[key[img[j]]];
    if (n_groups && groups[n_groups - 1].aug == a)
      groups[n_groups - 1].count++;
    else
      groups[n_groups++] = (dam_augment_group){a, j, 1};
    scratch[j] = seed_img[img[j]];
  }
  dam_tensor *seed = dam_uint_tensor(ex, scratch, n);
  dam_tensor *mag = seed ? dam_permute_rows(ex, mag_img, img) : NULL;
  dam_tensor *y =
      mag ? dam_augment_stage(ex, groups, n_groups, x, mag, seed, fill) : NULL;
  free(groups);
  return y;
}

dam_tensor *dam_da_apply(dam_exec *ex, dam_augment *const *augs, uint32_t k,
                         const dam_da_sample *s, dam_tensor *x, float fill,
                         dam_tensor **magnitude) {
  uint32_t n = s->n;
  if (!x || x->shape.dim[0] != n)
    return dam_fail(DAM_ESHAPE, "da: %u images for a sample of %u",
                    x ? x->shape.dim[0] : 0, n), NULL;
  uint32_t *buf = malloc(((size_t)6 * n + k + 1) * sizeof *buf);
  if (!buf)
    return dam_fail(DAM_ENOMEM, "out of memory"), NULL;
  uint32_t *key[2] = {buf, buf + n}, *order = buf + 2 * n,
           *slot_key = buf + 3 * n, *img = buf + 4 * n, *scratch = buf + 5 * n,
           *count = buf + 6 * n;
  for (uint32_t i = 0; i < n; i++) {
    key[0][i] = s->pair[i] / k;
    key[1][i] = s->pair[i] % k;
  }
  dam_tensor *y = x, *mag[2] = {NULL, NULL};
  for (int st = 0; st < 2 && y; st++) {
    dam_shape ms = dam_shape4(n, 0, 0, 0);
    if (!(mag[st] = dam_tensor_new(ex, &ms, false)) ||
        dam_tensor_upload(ex, mag[st], s->magnitude[st])) {
      y = NULL;
      break;
    }
    mag[st]->requires_grad = magnitude != NULL;
    /* slot j of y holds image img[j] (identity before stage 0) */
    for (uint32_t j = 0; j < n; j++) {
      if (!st)
        img[j] = j;
      slot_key[j] = key[st][img[j]];
    }
    sort_by_key(slot_key, n, k, count, order);
    y = dam_permute_rows(ex, y, order);
    for (uint32_t j = 0; j < n; j++)
      scratch[j] = img[order[j]];
    memcpy(img, scratch, n * sizeof *img);
    if (y)
      y = stage(ex, augs, k, key[st], img, y, mag[st], s->seed[st], fill,
                scratch);
  }
  if (y) { /* back to image order: y[i] = y[slot of image i] */
    for (uint32_t j = 0; j < n; j++)
      order[img[j]] = j;
    y = dam_permute_rows(ex, y, order);
  }
  if (y && magnitude)
    memcpy(magnitude, mag, sizeof mag);
  free(buf);
  return y;
}
