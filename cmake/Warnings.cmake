# Every target in ringq builds warning-free.
add_compile_options(-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
                    -Wformat=2 -Wno-unused-parameter)
add_compile_definitions(_GNU_SOURCE)
