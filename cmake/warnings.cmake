# Warnings on for our own targets; VARCL_SANITIZE=ON builds everything with ASan + UBSan.
option(VARCL_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(VARCL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

function(varcl_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
endfunction()
