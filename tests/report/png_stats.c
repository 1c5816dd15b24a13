// SPDX-License-Identifier: GPL-2.0
/*
 * png_stats FILE.png: what a screenshot shows, for the report test. Prints
 * "width height nonwhite colours heat" where nonwhite counts pixels that
 * are not (near) white, colours the distinct 15-bit colours, and heat the
 * saturated red-to-yellow pixels only a pressure map or a force curve of
 * the right foot paints.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cairo/cairo.h>

int main(int argc, char **argv)
{
	static uint8_t seen[1 << 15];
	cairo_surface_t *s;
	unsigned long nonwhite = 0, colours = 0, heat = 0;
	int w, h, stride;
	uint8_t *d;

	if (argc != 2) {
		fprintf(stderr, "usage: png_stats FILE.png\n");
		return 2;
	}
	s = cairo_image_surface_create_from_png(argv[1]);
	if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
		fprintf(stderr, "png_stats: %s: %s\n", argv[1],
			cairo_status_to_string(cairo_surface_status(s)));
		return 1;
	}
	cairo_surface_flush(s);
	w = cairo_image_surface_get_width(s);
	h = cairo_image_surface_get_height(s);
	stride = cairo_image_surface_get_stride(s);
	d = cairo_image_surface_get_data(s);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint32_t p = *(uint32_t *)(d + (size_t)y * stride + 4 * (size_t)x);
			unsigned int r = p >> 16 & 0xff, g = p >> 8 & 0xff, b = p & 0xff;
			unsigned int c = (r >> 3) << 10 | (g >> 3) << 5 | b >> 3;

			if (r < 235 || g < 235 || b < 235)
				nonwhite++;
			if (!seen[c]++)
				colours++;
			if (r > 200 && b < 60 && g < 220)
				heat++;
		}
	printf("%d %d %lu %lu %lu\n", w, h, nonwhite, colours, heat);
	cairo_surface_destroy(s);
	return 0;
}
