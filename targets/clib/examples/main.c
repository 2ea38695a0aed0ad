/*
 * On your board: train the exported model on samples a sensor hands over and keep what it
 * learnt in Flash, through tinytrain.h alone. board.h is this board's UART, Flash driver
 * and exit (one folder per board here); samples.h stands in for the sensor driver.
 */
#include "board.h"
#include "samples.h"
#include "tinytrain.h"

int main(void) {
  board_init();
  tt_init(7); /* the seed of the runtime's stochastic rounding */
  if (tt_restore(&board_flash) == TT_OK) board_print("resumed", tt_counters().steps);
  for (uint32_t i = 0; i < SAMPLE_COUNT; i++) {
    tt_set_input_u8(sample_pixels[i]); /* one 28x28 image, as the camera driver hands it over */
    const float loss = tt_train_step(sample_labels[i], 0.01f);
    board_print_f32("loss", loss);
  }
  const tt_status_t saved = tt_save(&board_flash); /* two CRC-checked slots: power loss keeps the last one */
  const tt_counters_t c = tt_counters();
  board_print("steps", c.steps);
  board_print("skipped", c.skipped);
  board_print("saved", (uint32_t)saved);
  board_print("predict", tt_predict(0));
  board_done();
  return 0;
}
