/* locusctl: placeholder until the admin client lands. */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "locusctl: not yet\n");
    return 1;
}
