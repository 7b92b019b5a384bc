#include <libxml/xmlversion.h>
// Swift 6 cannot import libxml2's ICU-dependent declarations; they are not needed here.
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

// xmlFree is a global function pointer, which Swift 6 treats as shared mutable state.
static inline void dera_xml_free(void *pointer) { xmlFree(pointer); }
