# varcl_embed_kernels(OUT file...): writes OUT, a C file with one string per kernel file:
#   const struct varcl_kernel_source varcl_kernel_sources[] = {{"norm.cl", "..."}, ..., {0, 0}};
# Regenerated whenever a .cl file changes.
set(VARCL_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_kernels_run.cmake)

function(varcl_embed_kernels out)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} "-DFILES=${ARGN}" -P ${VARCL_EMBED_SCRIPT}
    DEPENDS ${ARGN} ${VARCL_EMBED_SCRIPT}
    COMMENT "Embedding OpenCL kernels" VERBATIM)
endfunction()
