/*
 * What a search run writes: metrics.jsonl (a line per step and per epoch),
 * and at the end genotype.json, normal.dot / reduce.dot (with SVGs when
 * graphviz is installed), model.safetensors (the final network's tensors,
 * with the genotype and the op plugins in its metadata) and summary.json.
 * Formats: docs/SEARCH.md.
 */
#include "search_run.h"

#include "atomic_file.h"
#include "error.h"
#include "genotype.h"
#include "json_write.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[] = {"search", "final"};
static const char *const cell_names[] = {"normal", "reduce"};

static void hypers(dam_json *j, const dam_step_result *r) {
  dam_json_number(j, "lr", r->lr);
  dam_json_number(j, "weight_decay", r->wd);
  dam_json_number(j, "momentum", r->momentum);
}

static void end_line(dam_run *run) {
  fputc('\n', run->metrics);
}

/* Open a metrics line: its type and where the run is. */
static void line_start(dam_run *run, dam_json *j, const char *type) {
  dam_json_init(j, run->metrics, false);
  dam_json_object(j, NULL);
  dam_json_string(j, "type", type);
  dam_json_string(j, "phase", phase_names[run->phase]);
  dam_json_int(j, "epoch", run->phase == DAM_PHASE_SEARCH
                               ? run->search_epochs_done
                               : run->epoch);
  dam_json_int(j, "step", (int64_t)run->step);
}

void dam__metrics_step(dam_run *run, const dam_step_result *r, double ips) {
  dam_json j;
  line_start(run, &j, "step");
  dam_json_number(&j, "loss", r->loss);
  dam_json_number(&j, "train_acc", r->acc);
  dam_json_number(&j, "val_loss", r->val_loss);
  dam_json_number(&j, "val_acc", r->val_acc);
  hypers(&j, r);
  dam_json_number(&j, "images_per_s", ips);
  dam_json_end(&j);
  end_line(run);
  fflush(run->metrics);
}

/* The terms each node evaluates now, with their weights. */
static void arch_weights(dam_run *run, dam_json *j) {
  uint32_t max = dam_arch_max_terms(run->arch);
  dam_arch_term *terms = calloc(max, sizeof *terms);
  float *w = calloc(max, sizeof *w);
  dam_json_object(j, "arch");
  for (int c = 0; terms && w && c < 2; c++) {
    uint32_t n = run->phase == DAM_PHASE_SEARCH
                     ? dam_arch_terms(run->arch, c, terms, w)
                     : dam_genotype_terms(run->net, &run->genotype, c, terms,
                                          w);
    dam_json_array(j, cell_names[c]);
    for (uint32_t k = 0; k < n; k++) {
      dam_json_object(j, NULL);
      dam_json_int(j, "node", terms[k].node);
      dam_json_int(j, "from", terms[k].from);
      dam_json_string(j, "op", run->op_descs[terms[k].op]->hdr.name);
      dam_json_float(j, "weight", w[k]);
      dam_json_end(j);
    }
    dam_json_end(j);
  }
  dam_json_end(j);
  free(terms);
  free(w);
}

static void da_top(dam_run *run, dam_json *j) {
  enum { TOP = 5 };
  uint32_t pair[TOP];
  double prob[TOP];
  uint32_t n = dam_da_policy_top(&run->policy, TOP, pair, prob);
  uint32_t k = run->policy.s.k;
  dam_json_array(j, "da_top");
  for (uint32_t i = 0; i < n; i++) {
    dam_json_object(j, NULL);
    dam_json_array(j, "ops");
    dam_json_string(j, NULL, run->cfg->da.ops.v[pair[i] / k]);
    dam_json_string(j, NULL, run->cfg->da.ops.v[pair[i] % k]);
    dam_json_end(j);
    dam_json_number(j, "p", prob[i]);
    dam_json_end(j);
  }
  dam_json_end(j);
}

void dam__metrics_epoch(dam_run *run) {
  dam_json j;
  double n = run->n_steps_epoch ? run->n_steps_epoch : 1;
  line_start(run, &j, "epoch");
  dam_json_number(&j, "train_loss", run->sum_loss / n);
  dam_json_number(&j, "train_acc", run->sum_acc / n);
  if (run->val)
    dam_json_number(&j, "val_acc", run->sum_val_acc / n);
  arch_weights(run, &j);
  dam_json_object(&j, "frozen");
  for (int c = 0; c < 2; c++) {
    dam_json_array(&j, cell_names[c]);
    for (uint32_t i = 0; i < run->net_desc.nodes; i++)
      dam_json_bool(&j, NULL, dam_arch_frozen(run->arch, c, i));
    dam_json_end(&j);
  }
  dam_json_end(&j);
  if (run->cfg->da.enabled)
    da_top(run, &j);
  dam_json_object(&j, "hpo");
  for (uint32_t i = 0; i < run->n_hpo; i++)
    dam_json_number(&j, dam_hpo_name(run->hpo[i]), dam_hpo_value(run->hpo[i]));
  dam_json_end(&j);
  dam_json_end(&j);
  end_line(run);
  fflush(run->metrics);
}

/* {"op name": "module (file)"} of the ops the genotype uses. */
static char *op_plugins_json(dam_run *run) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f)
    return NULL;
  dam_json j;
  dam_json_init(&j, f, false);
  dam_json_object(&j, NULL);
  for (uint32_t o = 0; o < run->net_desc.n_ops; o++) {
    const char *name = run->op_descs[o]->hdr.name;
    const dam_plugin *owner = NULL;
    dam_registry_find(run->reg, DAM_KIND_OP, name, &owner);
    dam_json_object(&j, name);
    dam_json_string(&j, "module", owner ? owner->module->name : "?");
    dam_json_string(&j, "version", owner ? owner->module->version : "?");
    dam_json_end(&j);
  }
  dam_json_end(&j);
  bool ok = !ferror(f);
  fclose(f);
  if (!ok) {
    free(text);
    return NULL;
  }
  return text;
}

static int write_model(dam_run *run, const char *path) {
  dam_safetensors *st = dam_st_new();
  char *geno = dam_genotype_to_json(&run->genotype, false);
  char *plugins = op_plugins_json(run);
  int err = st && geno && plugins ? dam__net_save(run, st, false)
                                  : dam_fail(DAM_ENOMEM, "out of memory");
  uint64_t c = run->data->train->channels;
  if (!err)
    err = dam_st_add(st, "input.mean", DAM_ST_F32, 1, &c, run->data->mean);
  if (!err)
    err = dam_st_add(st, "input.std", DAM_ST_F32, 1, &c, run->data->std);
  if (!err)
    err = dam_st_set_meta(st, "format", "diffautoml-model-1");
  if (!err)
    err = dam_st_set_meta(st, "genotype", geno);
  if (!err)
    err = dam_st_set_meta(st, "op_plugins", plugins);
  if (!err)
    err = dam_st_write(st, path);
  free(geno);
  free(plugins);
  dam_st_free(st);
  return err;
}

static int write_summary(dam_run *run, const char *path, double acc,
                         double loss, double params, double flops) {
  char *tmp = NULL;
  FILE *f = dam_atomic_open(path, &tmp);
  if (!f)
    return DAM_EIO;
  dam_json j;
  dam_json_init(&j, f, true);
  dam_json_object(&j, NULL);
  dam_json_number(&j, "test_accuracy", acc);
  dam_json_number(&j, "test_loss", loss);
  dam_json_int(&j, "test_images", run->data->test->n);
  dam_json_number(&j, "parameters_millions", params);
  dam_json_number(&j, "flops_per_image", flops);
  dam_json_number(&j, "search_time_s",
                  run->elapsed_s + (dam__now() - run->t_start));
  dam_json_int(&j, "search_epochs", run->search_epochs_done);
  dam_json_int(&j, "final_epochs", run->epoch);
  dam_json_int(&j, "steps", (int64_t)run->step);
  dam_json_string(&j, "device", run->dev->info.name);
  dam_json_object(&j, "hpo");
  for (uint32_t i = 0; i < run->n_hpo; i++)
    dam_json_number(&j, dam_hpo_name(run->hpo[i]), dam_hpo_value(run->hpo[i]));
  dam_json_end(&j);
  dam_json_string(&j, "genotype", "genotype.json");
  dam_json_string(&j, "model", "model.safetensors");
  dam_json_end(&j);
  return dam_atomic_close(f, tmp, path, true);
}

int dam__write_outputs(dam_run *run, double acc, double loss) {
  char path[1100], svg[1100];
  double flops = 0;
  int err = dam__flops_per_image(run, &flops);
  snprintf(path, sizeof path, "%s/genotype.json", run->dir);
  if (!err)
    err = dam_genotype_write_json(&run->genotype, path);
  for (int c = 0; !err && c < 2; c++) {
    snprintf(path, sizeof path, "%s/%s.dot", run->dir, cell_names[c]);
    snprintf(svg, sizeof svg, "%s/%s.svg", run->dir, cell_names[c]);
    err = dam_genotype_write_dot(&run->genotype, c, path);
    if (!err && dam_genotype_render_svg(path, svg) < 0)
      err = DAM_EIO;
  }
  snprintf(path, sizeof path, "%s/model.safetensors", run->dir);
  if (!err)
    err = write_model(run, path);
  snprintf(path, sizeof path, "%s/summary.json", run->dir);
  if (!err)
    err = write_summary(run, path, acc, loss,
                        dam_supernet_params_of(&run->genotype, run->net),
                        flops);
  return err;
}
