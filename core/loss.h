/*
 * Classification loss kernels: per-sample softmax cross-entropy, its
 * gradient, and the count of correct predictions.  Labels are class
 * indices stored as floats (exact integers), one per sample.  Like the other
 * core kernels they record dispatches into `ex`, never wait and do not touch
 * the autograd tape; arguments are checked before anything is recorded.
 *
 * Shapes: logits and probs are 2-D [N, K]; glogits holds N*K elements;
 * labels, loss and gloss hold N elements.  Errors: DAM_EINVAL
 * for a NULL or non-contiguous tensor, DAM_ESHAPE with the shapes in the
 * message otherwise, DAM_ERANGE past 2^32 elements.
 */
#ifndef DAM_LOSS_H
#define DAM_LOSS_H

#include "tensor.h"

/* loss[n] = logsumexp(z[n,:]) - z[n,label[n]] over logits z[N,K], computed
 * from the row max down (no overflow), and probs[N,K] = softmax(z) for the
 * backward; both written.  A label that is not an integer in [0, K) gives
 * a NaN loss for its sample (the data loader validates labels; this is a
 * last guard); its probs are still written. */
int dam_k_softmax_xent(dam_exec *ex, const dam_tensor *logits,
                       const dam_tensor *labels, dam_tensor *loss,
                       dam_tensor *probs);

/* glogits[n,k] += gloss[n] * (probs[n,k] - [k == label[n]]), the gradient
 * of sum_n gloss[n] * loss[n]: gloss = 1/N backpropagates the mean.  A
 * sample with an invalid label gets NaN gradients, like its loss.
 * glogits has probs' element count. */
int dam_k_softmax_xent_backward(dam_exec *ex, const dam_tensor *probs,
                                const dam_tensor *labels,
                                const dam_tensor *gloss,
                                dam_tensor *glogits);

/* correct[0] = number of samples n whose argmax_k logits[n,k] (the first
 * of equal maxima) equals label[n], as a float; correct has one element
 * and is written.  Invalid labels never count. */
int dam_k_count_correct(dam_exec *ex, const dam_tensor *logits,
                        const dam_tensor *labels, dam_tensor *correct);

#endif
