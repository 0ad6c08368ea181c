/* vgen: placeholder while the engine is built (replaced in this series). */
#include <stdio.h>
int main(void) { fprintf(stderr, "vgen: not built yet\n"); return 1; }
