/* A shared object that exports no ringq_plugin_v1. */
__attribute__((__visibility__("default"))) int not_a_ringq_plugin = 1;
