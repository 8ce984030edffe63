/* A dependency that the missing-dependency fixture links against but that is not on
 * the loader's search path at run time. */
int vanishing_function(void) { return 42; }
