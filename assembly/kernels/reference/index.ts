// The reference kernels (README.md here): test library only, never a runtime.
export { qs8_conv2d_fwd__ref, qs8_conv2d_fwd_rows__ref, f32_conv2d_igrad__ref, f32_conv2d_wgrad__ref, qs8_conv2d_wupdate__ref, qs8_conv2d_wapply__ref } from './conv2d';
export { f32_bias_grad__ref, qs32_bias_update__ref, qs32_bias_apply__ref, f32_gap_head_bwd__ref } from './conv2d';
export { qs8_avgpool_fwd__ref, f32_avgpool_bwd__ref } from './pool';
export { qs8_add__ref, qs8_clamp__ref, f32_clamp_bwd__ref, u1_clamp_mask__ref, f32_clamp_bwd_mask__ref, f32_grad_into__ref, qs8_save_channels__ref, qs8_argmax__ref } from './eltwise';
export { f32_softmax_xent__ref, f32_sigmoid_bce__ref, f32_mse__ref } from './loss';
export { u32_nonfinite_reset__ref, u32_nonfinite_count__ref } from './update';
export { qs8_sparse1x1_fwd__ref, qs8_sparse1x1_fwd_row__ref, f32_sparse1x1_igrad__ref, f32_sparse_gap_head_bwd__ref } from './sparse';
export { qs8_prelu_fwd__ref, f32_prelu_bwd__ref } from './prelu';
