/*
 * Datasets on the host: images as bytes (CHW per image) with one label
 * each, the readers for MNIST-style IDX files and the CIFAR-10/100 binary
 * format, and the seeded train/validation split of the indices.
 */
#ifndef DAM_DATASET_H
#define DAM_DATASET_H

#include <stdint.h>

typedef struct dam_dataset {
  uint32_t n, channels, height, width, classes;
  uint8_t *images; /* n*channels*height*width, CHW per image, 0..255 */
  uint8_t *labels; /* n, each < classes */
} dam_dataset;

/* Free d's arrays and zero its fields; the struct itself is the caller's.
 * NULL and an already-freed (zeroed) dataset are fine. */
void dam_dataset_free(dam_dataset *d);

/* Permute idx[0..n) in place by a Fisher-Yates shuffle driven by
 * splitmix64 seeded with `seed` (the same on every platform). */
void dam_shuffle(uint32_t *idx, uint32_t n, uint64_t seed);

/* Per-channel mean and standard deviation (population) of the pixels of
 * the n images idx[0..n) of d, scaled to [0, 1]; mean and std hold
 * d->channels entries.  n == 0 gives mean 0 and std 1. */
void dam_dataset_channel_stats(const dam_dataset *d, const uint32_t *idx,
                               uint32_t n, float *mean, float *std);

/* Split the indices 0..n-1 into a validation set of round(n*val_ratio)
 * indices and a training set of the rest, by a Fisher-Yates shuffle driven
 * by splitmix64 seeded with `seed`: the same (n, val_ratio, seed) gives the
 * same split on every platform.  Both lists are in shuffled order and are
 * new malloc'd arrays the caller frees; an empty list is NULL with count 0.
 * DAM_EINVAL when val_ratio is not in [0, 1), DAM_ENOMEM; on failure every
 * out-param is zeroed. */
int dam_dataset_split(uint32_t n, double val_ratio, uint64_t seed,
                      uint32_t **train_idx, uint32_t *n_train,
                      uint32_t **val_idx, uint32_t *n_val);

/* Read an IDX image file (magic 0x00000803, n x rows x cols bytes) and its
 * IDX label file (magic 0x00000801, n labels < 10), each gzip-compressed or
 * raw (told apart by the gzip magic bytes, not by the name), into *out with
 * channels 1 and classes 10; the caller frees it with dam_dataset_free.
 * DAM_EIO when a file cannot be opened or read; DAM_EDATA for a truncated
 * or corrupt file, a wrong magic, dims of 0 or over 4096, no images,
 * differing counts, a label out of range or data past the end; DAM_ENOMEM.
 * The message names the file and the byte offset (of the decompressed data
 * for gzip files).  On failure *out is zeroed. */
int dam_idx_load(const char *images_path, const char *labels_path,
                 dam_dataset *out);

/* Where the Debian package dataset-fashion-mnist puts its files. */
const char *dam_fashion_mnist_dir(void);

/* Load the Fashion-MNIST training set (test_set 0: train-*-idx?-ubyte) or
 * test set (t10k-*) from `dir` (NULL: dam_fashion_mnist_dir()), taking the
 * .gz name when present and the uncompressed name otherwise.
 * DAM_ENOTFOUND when dir does not exist (the message names the package),
 * else as dam_idx_load. */
int dam_fashion_mnist_load(const char *dir, int test_set, dam_dataset *out);

/* Read CIFAR-10 (cifar100 0: records of 1 label byte + 3072 image bytes)
 * or CIFAR-100 (cifar100 1: coarse and fine label bytes + 3072; the fine
 * label is kept) binary files, the records of paths[0..n_paths) in order,
 * into *out as 3x32x32 CHW images with classes 10 or 100; the caller frees
 * it with dam_dataset_free.  DAM_EINVAL for no paths; DAM_EIO when a file
 * cannot be opened or read; DAM_EDATA for an empty file, a size that is not
 * a whole number of records (the offset of the partial record is named), a
 * label out of range (file and byte offset named) or over 2^32-1 records;
 * DAM_ENOMEM.  On failure *out is zeroed. */
int dam_cifar_load(const char *const *paths, uint32_t n_paths, int cifar100,
                   dam_dataset *out);

#endif
